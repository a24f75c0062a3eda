// The page's script, installed by each source panel (gr.HTML js_on_load; Gradio provides
// `element`, `trigger` and `watch`).  __PREFIX__ is the panel's key prefix ("c": the chat's
// chips, "r": practice-library records, "f": the facilitator's view of a conversation).
//
// One capturing click listener on the document turns a click (or Enter) on a link to
// "#pa-<p>-…" into a 'click' event, carrying the key, on the panel registered for prefix <p>.
// The chips are plain Markdown links, so nothing custom has to survive the chat's sanitiser;
// their title ("Source 1: report, section") becomes their accessible name here.
// When the panel shows the passage it receives focus (a screen reader reads it; the page
// scrolls to it) and, on a narrow screen, its drawer opens over the lower part of the screen.
// Escape or the drawer's Close button closes it and returns focus to the chip.
const prefix = __PREFIX__;
const pa = (window.__pa = window.__pa || { openers: {}, pending: {}, lastChip: null });
pa.openers[prefix] = (key) => trigger('click', { key: key });
element.setAttribute('role', 'region');
element.setAttribute('aria-label', __LABEL__);
element.setAttribute('aria-live', 'polite');

if (!document.getElementById('pa-style')) {
  const style = document.createElement('style');
  style.id = 'pa-style';
  style.textContent = __CSS__;
  document.head.appendChild(style);
}

const narrow = () => window.matchMedia('(max-width: 1023px)').matches;

// Show the passage the click asked for once it is in the panel (not, say, an answer's panel
// arriving meanwhile): open the drawer on a narrow screen, move focus to it.
const settle = () => {
  const key = pa.pending[prefix];
  if (!key) return true;
  const opened = [...element.querySelectorAll('.pa-opened')].some((e) => e.dataset.key === key);
  if (!opened && !element.querySelector('.pa-empty')) return false;
  pa.pending[prefix] = null;
  const drawer = element.closest('.pa-drawer');
  if (drawer && narrow()) drawer.classList.add('pa-open');
  // focus() does nothing while the panel is still being laid out (Gradio's loading state of the
  // event's other outputs): try again until the focus is in the panel, for up to five seconds (a
  // busy server or a slow phone can hold the loading state well past one)
  let attempts = 0;
  const focusPanel = () => {
    const target = element.querySelector('.pa-focus') || element;
    if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
    target.focus({ preventScroll: narrow() });
    if (!element.contains(document.activeElement) && ++attempts < 100) {
      setTimeout(focusPanel, 50);
      return;
    }
    const card = element.querySelector('.pa-card.pa-selected');
    if (card && !narrow()) card.scrollIntoView({ block: 'nearest' });
  };
  setTimeout(focusPanel, 30);
  return true;
};
watch('value', settle);
pa.settlers = pa.settlers || {};
pa.settlers[prefix] = () => {
  // also poll, in case the re-render and the watch callback cross
  let tries = 0;
  const timer = setInterval(() => { if (settle() || ++tries > 300) clearInterval(timer); }, 100);
};

if (!pa.installed) {
  pa.installed = true;
  pa.close = () => {
    const open = document.querySelectorAll('.pa-drawer.pa-open');
    open.forEach((d) => d.classList.remove('pa-open'));
    if (open.length && pa.lastChip && document.contains(pa.lastChip)) pa.lastChip.focus();
  };
  document.addEventListener(
    'click',
    (ev) => {
      const t = ev.target;
      if (!t || !t.closest) return;
      const a = t.closest('a[href^="#pa-"]');
      if (!a) return;
      const key = a.getAttribute('href').slice(4);
      const open = pa.openers[key.charAt(0)];
      if (!open) return;
      ev.preventDefault();
      ev.stopPropagation();
      pa.lastChip = a;
      pa.pending[key.charAt(0)] = key;
      open(key);
      if (pa.settlers && pa.settlers[key.charAt(0)]) pa.settlers[key.charAt(0)]();
    },
    true
  );
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && document.querySelector('.pa-drawer.pa-open')) {
      ev.preventDefault();
      pa.close();
    }
  });
  const label = () => {
    document.querySelectorAll('a[href^="#pa-"][title]').forEach((a) => {
      if (a.getAttribute('aria-label') !== a.title) a.setAttribute('aria-label', a.title);
    });
  };
  new MutationObserver(label).observe(document.body, { childList: true, subtree: true });
  label();
}
