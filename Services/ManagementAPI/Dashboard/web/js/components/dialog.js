// Modal dialogs on the native <dialog> element (focus is trapped and Escape cancels by the browser).
import { h, field } from '../dom.js';

/**
 * Asks for confirmation. Resolves to {comment} when confirmed (comment '' if none), null when cancelled.
 * confirmDialog({title, message, confirmLabel, danger, withComment, details})
 * The confirm button has data-testid="confirm", cancel has data-testid="cancel", the comment "comment".
 */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false, withComment = false, details = null }) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const comment = withComment
      ? h('input', { type: 'text', maxlength: '1000', 'data-testid': 'comment', placeholder: 'e.g. INC-1234, why this change' })
      : null;
    let result = null;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('h2', { id: 'dialog-title' }, title),
      message ? h('p', {}, message) : null,
      details,
      comment ? field('Comment (optional, kept in the audit log)', comment) : null,
      h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-testid': 'cancel', onclick: () => dialog.close() }, 'Cancel'),
        h('button', {
          type: 'button', class: danger ? 'danger' : 'primary', 'data-testid': 'confirm',
          onclick: () => { result = { comment: comment ? comment.value.trim() : '' }; dialog.close(); },
        }, confirmLabel)));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (previous && previous.focus) previous.focus();
      resolve(result);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (comment || dialog.querySelector('[data-testid="confirm"]')).focus();
  });
}

/** Shows content in a dialog with a Close button (e.g. a secret shown once). Resolves when closed. */
export function infoDialog({ title, body, closeLabel = 'Close' }) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('h2', { id: 'dialog-title' }, title), body,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', 'data-testid': 'close', onclick: () => dialog.close() }, closeLabel)));
    dialog.addEventListener('close', () => { dialog.remove(); if (previous && previous.focus) previous.focus(); resolve(); });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}
