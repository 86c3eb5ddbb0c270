// Checks of the page's markup a screen reader and a keyboard user rely on,
// and of text contrast (WCAG 2 AA: 4.5:1, 3:1 for large text). Returns the
// problems found, as text.
(() => {
  const problems = [];
  const all = (sel) => Array.from(document.querySelectorAll(sel));
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (!document.title.trim()) problems.push("no title");
  if (all("h1").length !== 1) problems.push(`${all("h1").length} h1 elements, want 1`);
  if (!document.querySelector("main#main")) problems.push("no main landmark with id main");
  const skip = document.querySelector("a.skip-link");
  if (!skip || skip.getAttribute("href") !== "#main") problems.push("no skip link to #main");
  if (all("[style]").length) problems.push("inline style attributes (the CSP blocks them)");
  for (const e of all("input:not([type=hidden]), select, textarea")) {
    if (!e.labels || !e.labels.length) problems.push(`field ${e.name || e.id} has no label`);
  }
  for (const e of all("img")) if (!e.hasAttribute("alt")) problems.push(`img ${e.src} has no alt`);
  for (const t of all("table")) {
    if (!t.querySelector("caption")) problems.push("table without a caption");
    if (!t.querySelector("thead th[scope=col]")) problems.push("table without column headers");
  }
  for (const a of all("a[href], button")) {
    if (!a.textContent.trim() && !a.getAttribute("aria-label")) problems.push(`${a.tagName} without text: ${a.outerHTML.slice(0, 80)}`);
  }
  const ids = new Set();
  for (const e of all("[id]")) {
    if (ids.has(e.id)) problems.push(`duplicate id ${e.id}`);
    ids.add(e.id);
  }
  for (const e of all("[aria-describedby]")) {
    for (const id of e.getAttribute("aria-describedby").split(/\s+/)) {
      if (!document.getElementById(id)) problems.push(`aria-describedby names missing id ${id}`);
    }
  }

  // Contrast of every element that holds text of its own.
  const rgb = (s) => {
    const m = s.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  for (const e of all("body *")) {
    const own = Array.from(e.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const st = getComputedStyle(e);
    if (!own || st.visibility === "hidden" || st.display === "none" || e.closest(".visually-hidden, .skip-link, svg")) continue;
    const fg = rgb(st.color);
    if (!fg) continue;
    const l1 = lum(fg), l2 = lum(background(e));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) problems.push(`contrast ${ratio.toFixed(2)} < ${need} for "${e.textContent.trim().slice(0, 40)}" (${e.tagName.toLowerCase()}.${e.className})`);
  }
  return problems;
})()
