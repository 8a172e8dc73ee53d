// The signed-in API token, kept in sessionStorage (see docs/dashboard.md, "Sign-in"): per tab, gone when the
// tab closes, never sent by the browser on its own (so no CSRF), never put in a URL.

const KEY = 'vane.token';

export const ROLES = ['reader', 'writer', 'admin'];

/** Whether `role` includes `needed` (admin ⊇ writer ⊇ reader). */
export function allows(role, needed) {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed) && ROLES.indexOf(needed) >= 0;
}

export function storedToken() {
  try { return window.sessionStorage.getItem(KEY); } catch { return null; }
}

export function storeToken(token, identity) {
  window.sessionStorage.setItem(KEY, token);
  // A token's name and role never change, so a reload need not ask again (a revoked token gets 401 on its first call).
  window.sessionStorage.setItem(`${KEY}.identity`, JSON.stringify(identity));
}

export function storedIdentity() {
  try { return JSON.parse(window.sessionStorage.getItem(`${KEY}.identity`)); } catch { return null; }
}

export function forgetToken() {
  try {
    window.sessionStorage.removeItem(KEY);
    window.sessionStorage.removeItem(`${KEY}.identity`);
  } catch { /* storage disabled */ }
}

/** The identity {id, name, role} of a token, asked from GET /api/v1/me. */
export async function whoAmI(api) {
  const { data } = await api.get('/me');
  return data;
}
