// Applies the chosen theme (light, dark, or the system's) before the page
// draws, and switches it with #theme-toggle. The choice (not any
// credential) is kept in localStorage.
const root = document.documentElement;
const saved = localStorage.getItem('tasker-theme');
if (saved === 'light' || saved === 'dark') root.dataset.theme = saved;
function current() {
  return root.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
}
document.addEventListener('DOMContentLoaded', () => {
  const b = document.getElementById('theme-toggle');
  if (!b) return;
  b.addEventListener('click', () => {
    const next = current() === 'dark' ? 'light' : 'dark';
    root.dataset.theme = next;
    localStorage.setItem('tasker-theme', next);
  });
});
