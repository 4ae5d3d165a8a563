// The search page of `searchlib serve`: it calls the JSON API of the same server.
// Every text from the index goes into the page as a text node, never as HTML.
"use strict";

const PAGE_SIZE = 10;
const MAX_OFFSET = 1000; // the server's bound: pages beyond it are not served
const $ = (id) => document.getElementById(id);
let state = { q: "", lang: "", per_doc: false, entity: "", type: "", offset: 0 };
let latest = 0; // the newest request: answers to older ones are dropped

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function readState() {
  const params = new URLSearchParams(location.search);
  const offset = parseInt(params.get("offset") || "0", 10);
  state = {
    q: params.get("q") || "",
    lang: params.get("lang") || "",
    per_doc: params.get("per_doc") === "true",
    entity: params.get("entity") || "",
    type: params.get("type") || "",
    offset: Number.isFinite(offset) && offset > 0 ? offset : 0,
  };
  $("q").value = state.q;
  $("lang").value = state.lang;
  $("per_doc").checked = state.per_doc;
}

function queryString(extra) {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  if (state.lang) params.set("lang", state.lang);
  if (state.per_doc) params.set("per_doc", "true");
  if (state.entity) params.set("entity", state.entity);
  if (state.type) params.set("type", state.type);
  if (state.offset) params.set("offset", String(state.offset));
  for (const [name, value] of Object.entries(extra || {})) params.set(name, value);
  return params.toString();
}

function go(changes) {
  Object.assign(state, changes);
  history.pushState(null, "", "/?" + queryString());
  search();
}

// The passage with its matches in <mark>. Offsets count code points (Python's
// str), so the text is cut as an array of code points, not of UTF-16 units.
function marked(text, matches) {
  const chars = Array.from(text);
  const paragraph = element("p", { class: "text" });
  let at = 0;
  for (const [start, end] of [...matches].sort((a, b) => a[0] - b[0])) {
    if (start < at) continue;
    paragraph.append(chars.slice(at, start).join(""));
    paragraph.append(element("mark", {}, chars.slice(start, end).join("")));
    at = end;
  }
  paragraph.append(chars.slice(at).join(""));
  return paragraph;
}

function entityChip(entity, cls) {
  return element(
    "button",
    { type: "button", class: cls, title: `Only passages that mention ${entity.text}`, onclick: () => filterBy(entity) },
    entity.text,
    element("span", { class: "label" }, entity.label),
  );
}

function filterBy(entity) {
  go({ entity: entity.text, type: entity.label, offset: 0 });
}

function renderHit(hit) {
  const where = element(
    "div", { class: "where" },
    element("span", { class: "doc" }, hit.doc_id), ` · passage ${hit.passage}`,
    hit.lang ? ` · ${hit.lang}` : "",
  );
  const item = element("li", { class: "hit", "data-doc": hit.doc_id, "data-passage": String(hit.passage) }, where);
  if (hit.title) item.append(element("div", { class: "title" }, hit.title));
  item.append(marked(hit.text, hit.matches));
  if (hit.entities.length) {
    item.append(element("div", { class: "entities" }, ...hit.entities.map((e) => entityChip(e, "chip"))));
  }
  return item;
}

function renderFacets(hits) {
  const counts = new Map();
  for (const hit of hits) {
    const seen = new Set();
    for (const entity of hit.entities) {
      const key = entity.label + "\u001f" + entity.text;
      if (seen.has(key)) continue;
      seen.add(key);
      const facet = counts.get(key) || { entity, count: 0 };
      facet.count += 1;
      counts.set(key, facet);
    }
  }
  const facets = [...counts.values()].sort((a, b) => b.count - a.count || a.entity.text.localeCompare(b.entity.text));
  const list = $("facet-list");
  list.replaceChildren(
    ...facets.slice(0, 20).map(({ entity, count }) => {
      const button = entityChip(entity, "facet");
      button.append(element("span", { class: "count" }, String(count)));
      return element("li", {}, button);
    }),
  );
  $("facets").hidden = facets.length === 0;
}

function renderFilters() {
  const filters = $("filters");
  const chips = [];
  if (state.entity || state.type) {
    const name = state.entity ? `${state.entity}${state.type ? ` (${state.type})` : ""}` : `type ${state.type}`;
    chips.push(element(
      "button",
      { type: "button", class: "chip active", title: "Remove this filter", onclick: () => go({ entity: "", type: "", offset: 0 }) },
      `entity: ${name} ✕`,
    ));
  }
  filters.replaceChildren(...chips);
  filters.hidden = chips.length === 0;
}

function clear() {
  $("hits").replaceChildren();
  $("facets").hidden = true;
  $("pages").hidden = true;
  $("suggestion").hidden = true;
  $("error").hidden = true;
  $("summary").textContent = "";
}

function showError(message) {
  clear();
  $("error").textContent = message;
  $("error").hidden = false;
}

async function search() {
  renderFilters();
  document.title = state.q ? `${state.q} · searchlib` : "searchlib";
  if (!state.q.trim()) {
    clear();
    return;
  }
  const ticket = ++latest;
  $("main").setAttribute("aria-busy", "true");
  let answer;
  try {
    const response = await fetch("/search?" + queryString({ limit: String(PAGE_SIZE) }));
    answer = { ok: response.ok, body: await response.json() };
  } catch (error) {
    answer = { ok: false, body: { error: "the server cannot be reached; try again" } };
  }
  if (ticket !== latest) return;
  $("main").removeAttribute("aria-busy");
  if (!answer.ok) {
    showError(answer.body.error || "the search failed");
    return;
  }
  render(answer.body);
}

function render(results) {
  clear();
  $("hits").replaceChildren(...results.hits.map(renderHit));
  renderFacets(results.hits);
  const first = results.offset + 1;
  const last = results.offset + results.hits.length;
  const what = state.per_doc ? "documents" : "passages";
  $("summary").textContent = results.hits.length
    ? `${first}–${last} of ${results.total} matching ${what}`
    : `No results for “${results.query}”.`;
  if (results.suggestion) {
    const link = $("suggested");
    link.textContent = results.suggestion;
    link.href = "/?" + new URLSearchParams({ q: results.suggestion }).toString();
    $("suggestion").hidden = false;
  }
  $("prev").hidden = results.offset === 0;
  $("next").hidden = last >= results.total || results.offset + PAGE_SIZE > MAX_OFFSET;
  $("pages").hidden = $("prev").hidden && $("next").hidden;
}

async function loadLanguages() {
  try {
    const response = await fetch("/info");
    if (!response.ok) return;
    const info = await response.json();
    const select = $("lang");
    for (const code of Object.keys(info.languages).sort()) {
      select.append(element("option", { value: code }, `${code} (${info.languages[code]})`));
    }
    select.value = state.lang;
  } catch (error) {
    // The language list is a convenience: searching works without it.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    go({ q: $("q").value, lang: $("lang").value, per_doc: $("per_doc").checked, offset: 0 });
  });
  $("lang").addEventListener("change", () => state.q && go({ lang: $("lang").value, offset: 0 }));
  $("per_doc").addEventListener("change", () => state.q && go({ per_doc: $("per_doc").checked, offset: 0 }));
  $("suggested").addEventListener("click", (event) => {
    event.preventDefault();
    $("q").value = event.target.textContent;
    go({ q: event.target.textContent, offset: 0 });
  });
  $("prev").addEventListener("click", () => go({ offset: Math.max(0, state.offset - PAGE_SIZE) }));
  $("next").addEventListener("click", () => go({ offset: state.offset + PAGE_SIZE }));
  window.addEventListener("popstate", () => { readState(); search(); });
  // On a phone the facets start folded, so that the hits come first.
  if (window.matchMedia("(max-width: 40rem)").matches) $("facets").open = false;
  readState();
  loadLanguages();
  search();
  $("q").focus();
});
