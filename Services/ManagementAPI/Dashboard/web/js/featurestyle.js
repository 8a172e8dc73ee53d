// The stylesheet of the segments, experiments, releases and evaluate pages (css/features.css), added once by the
// first of those pages that renders, next to css/app.css (same origin and version folder, so the CSP allows it).
let added = false;

export function useFeatureStyles() {
  if (added || typeof document === 'undefined') return;
  added = true;
  const link = document.createElement('link');
  link.setAttribute('rel', 'stylesheet');
  link.setAttribute('href', new URL('../css/features.css', import.meta.url).pathname);
  document.head.appendChild(link);
}
