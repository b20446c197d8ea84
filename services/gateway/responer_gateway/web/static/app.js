// Responer web UI: login, folders, thread list, thread view, search and replies.
// Plain DOM code, no build step. Text is always set with textContent; the only HTML inserted is
// (a) search snippets, which the search service escapes and marks up with <mark>, and (b) mail HTML,
// which the gateway sanitises and which is shown in an iframe with an empty sandbox (no scripts,
// unique origin) that also inherits the page's Content-Security-Policy (no remote images).
"use strict";

const POLL_MS = 5000;
const state = { folder: "Inbox", query: "", threadId: null, cursor: null, paged: false, me: null, timer: null };
// What this agent just did to a thread's unread state (open, mark unread), shown at once and kept over
// list refreshes for a few seconds, until the read model has caught up with the event.
const localUnread = new Map(); // thread id -> { unread, until }
const LOCAL_UNREAD_MS = 5000;
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
  const init = { credentials: "same-origin", headers: { Accept: "application/json" }, ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith("/api/auth/")) showLogin();
    throw new ApiError(response.status, describeError(body, response.status));
  }
  return body;
}

function describeError(body, status) {
  if (Array.isArray(body.detail)) return body.detail.map((e) => `${e.loc.slice(1).join(".")}: ${e.msg}`).join("; ");
  return body.detail || `request failed (${status})`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "type" || key === "title") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { day: "numeric", month: "short", year: date.getFullYear() === now.getFullYear() ? undefined : "numeric" });
}

function person(addr) {
  if (!addr) return "";
  return addr.name ? `${addr.name} <${addr.email}>` : addr.email;
}

// -- views ----------------------------------------------------------------------------------------
function showLogin() {
  stopPolling();
  state.me = null;
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  $("login-email").focus();
}

async function showApp(me) {
  state.me = me;
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("current-user").textContent = me.name ? `${me.name} (${me.email})` : me.email;
  $("tenant-name").textContent = me.tenant.name;
  await Promise.all([loadFolders(), loadThreads()]);
  startPolling();
  document.dispatchEvent(new CustomEvent("responer:app-shown", { detail: me }));
}

// -- folders --------------------------------------------------------------------------------------
async function loadFolders() {
  const folders = await api("/api/folders");
  const list = $("folder-list");
  list.replaceChildren(...folders.map((f) => {
    const button = el("button", {
      type: "button", class: "folder", "data-testid": "folder", "data-folder": f.folder,
      "aria-current": String(!state.query && f.folder === state.folder),
    },
      el("span", { class: "name", "data-testid": "folder-name", text: f.folder }),
      el("span", { class: "count", "data-testid": "folder-count", text: String(f.threads) }));
    button.addEventListener("click", () => selectFolder(f.folder));
    return el("li", {}, button);
  }));
}

async function selectFolder(folder) {
  state.folder = folder;
  state.query = "";
  $("search-input").value = "";
  await Promise.all([loadFolders(), loadThreads()]);
}

// -- thread list ----------------------------------------------------------------------------------
async function loadThreads({ append = false } = {}) {
  const params = new URLSearchParams({ limit: "50" });
  if (append && state.cursor) params.set("cursor", state.cursor);
  let page;
  if (state.query) {
    params.set("q", state.query);
    page = await api(`/api/search?${params}`);
    // Facets count the whole result, which grows with the archive: the list shows first, the
    // facets follow in their own request.
    if (!append) loadFacets(state.query);
  } else {
    params.set("folder", state.folder);
    page = await api(`/api/threads?${params}`);
  }
  state.cursor = page.next_cursor;
  state.paged = append;
  $("list-title").textContent = state.query ? `Search: ${state.query}` : state.folder;
  if (!append) renderTotal(state.query ? page : null);
  $("clear-search").hidden = !state.query;
  if (!state.query) renderFacets(null);
  const items = page.threads.map(threadItem);
  if (append) $("thread-list").append(...items);
  else $("thread-list").replaceChildren(...items);
  $("list-empty").hidden = $("thread-list").children.length > 0;
  $("more").hidden = !state.cursor;
}

// -- search facets: thread counts per folder, tag and assignee; a click narrows the query ---------------
async function loadFacets(query) {
  const params = new URLSearchParams({ q: query, limit: "1", facets: "true" });
  renderFacets(null);
  try {
    const page = await api(`/api/search?${params}`);
    // Over a large result the counts cover its newest conversations: at least this many.
    if (state.query === query) renderFacets(page.facets, page.total_exact === false);
  } catch (err) {
    console.warn("facets", err);
  }
}

function renderTotal(page) {
  let total = $("search-total");
  if (!total) {
    total = el("span", { id: "search-total", class: "total", "data-testid": "search-total" });
    $("list-title").after(total);
  }
  total.hidden = !page;
  if (!page) { total.textContent = ""; return; }
  const n = page.total.toLocaleString();
  total.textContent = page.total_exact ? `${n} conversation${page.total === 1 ? "" : "s"}` : `more than ${n} conversations`;
}

function renderFacets(facets, partial = false) {
  let box = $("search-facets");
  if (!box) {
    box = el("div", { id: "search-facets", class: "facets", "data-testid": "search-facets" });
    $("list-title").after(box);
  }
  box.hidden = !facets;
  if (!facets) { box.replaceChildren(); return; }
  const quote = (v) => (/[\s"()]/.test(v) ? `"${v.replaceAll('"', "")}"` : v);
  const chip = (kind, label, term, n) => {
    const b = el("button", { type: "button", class: "facet", "data-testid": "facet", "data-facet": kind,
      text: `${label} ${n}${partial ? "+" : ""}` });
    b.addEventListener("click", async () => {
      state.query = `${state.query} ${term}`.trim();
      $("search-input").value = state.query;
      await loadThreads();
    });
    return b;
  };
  box.replaceChildren(
    ...facets.folders.map((f) => chip("folder", f.value, `folder:${quote(f.value)}`, f.threads)),
    ...facets.tags.map((f) => chip("tag", `#${f.value}`, `tag:${quote(f.value)}`, f.threads)),
    ...facets.assignees.map((f) => chip("assignee", f.value ? `@${f.value.slice(0, 8)}` : "unassigned",
      f.value ? `assignee:${f.value}` : "is:unassigned", f.threads)),
  );
}

function isUnread(t) {
  const local = localUnread.get(t.id);
  if (local && local.until > Date.now()) return local.unread;
  localUnread.delete(t.id);
  return Boolean(t.unread);
}

function showUnread(threadId, unread) {
  localUnread.set(threadId, { unread, until: Date.now() + LOCAL_UNREAD_MS });
  for (const item of document.querySelectorAll(".thread-item")) {
    if (item.dataset.threadId !== threadId) continue;
    item.classList.toggle("unread", unread);
    item.dataset.unread = String(unread);
  }
}

function threadItem(t) {
  const unread = isUnread(t);
  const button = el("button", {
    type: "button", class: unread ? "thread-item unread" : "thread-item", "data-testid": "thread-item",
    "data-thread-id": t.id, "data-number": String(t.number), "aria-current": String(t.id === state.threadId),
    "data-unread": String(unread),
  },
    el("span", { class: "num", "data-testid": "thread-item-number", text: `#${t.number}` }),
    el("span", { class: "subject", "data-testid": "thread-item-subject", text: t.subject || "(no subject)" }),
    el("time", { class: "time", dateTime: t.last_message_at || "", text: formatTime(t.last_message_at) }),
    el("span", { class: "customer", "data-testid": "thread-item-customer", text: t.customer.name || t.customer.email }),
    el("span", { class: "msgs", "data-testid": "thread-item-count", title: "messages", text: String(t.message_count) }));
  // The dot is always there (CSS shows it only on unread items), so marking flips one attribute.
  button.prepend(el("span", { class: "unread-dot", "data-testid": "thread-item-unread-dot", title: "unread", "aria-label": "unread" }));
  if (state.query && t.tags && t.tags.length) {
    button.append(el("span", { class: "tags", "data-testid": "thread-item-tags", text: t.tags.map((x) => `#${x}`).join(" ") }));
  }
  if (t.snippet && state.query) {
    const snippet = el("span", { class: "snippet", "data-testid": "thread-item-snippet" });
    snippet.innerHTML = t.snippet; // escaped by the search service, with <mark> around the hits
    button.append(snippet);
  }
  button.addEventListener("click", () => openThread(t.id));
  return el("li", {}, button);
}

// -- one thread -----------------------------------------------------------------------------------
async function openThread(threadId) {
  if (state.threadId !== threadId) {
    // A different conversation: start with an empty reply, before the (slower) fetch returns,
    // so nothing typed meanwhile is wiped.
    state.threadId = threadId;
    $("reply-body").value = "";
    setReplyStatus("", "");
  }
  const thread = await api(`/api/threads/${encodeURIComponent(threadId)}`);
  if (state.threadId !== threadId) return; // another thread was chosen meanwhile
  showUnread(threadId, false); // the gateway recorded the open: read, for this agent
  for (const item of document.querySelectorAll(".thread-item")) {
    item.setAttribute("aria-current", String(item.dataset.threadId === threadId));
  }
  $("thread-placeholder").hidden = true;
  $("thread-body").hidden = false;
  $("thread-number").textContent = `#${thread.number}`;
  $("thread-subject").textContent = thread.subject || "(no subject)";
  $("thread-customer").textContent = person(thread.customer);
  $("thread-status").textContent = thread.status || "open";
  $("thread-reason").textContent = thread.system_reason || "";
  $("messages").replaceChildren(...thread.messages.map(messageView));
  document.dispatchEvent(new CustomEvent("responer:thread-opened", { detail: thread }));
}

function messageView(m) {
  const header = el("header", {},
    el("span", {},
      el("span", { class: "who", "data-testid": "message-from", text: m.from.name || m.from.email }),
      " ",
      el("span", { class: "addr", text: m.from.name ? `<${m.from.email}>` : "" }),
      el("span", { class: "addr", text: m.to.length ? ` → ${m.to.map((a) => a.email).join(", ")}` : "" })),
    el("time", { class: "muted", dateTime: m.date || "", title: m.date || "", text: m.date ? new Date(m.date).toLocaleString() : "" }));
  const article = el("article", { class: `message ${m.direction}`, "data-testid": "message", "data-direction": m.direction }, header);
  if (m.html) {
    const frame = el("iframe", { "data-testid": "message-html", title: `Message from ${m.from.email}` });
    frame.setAttribute("sandbox", ""); // no scripts, no forms, no popups, a unique origin
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.srcdoc = `<!doctype html><meta charset="utf-8"><style>body{font:15px/1.5 system-ui,sans-serif;margin:.8rem .9rem;color:#1d2330;word-wrap:break-word}img{max-width:100%}blockquote{border-left:3px solid #ddd;margin-left:0;padding-left:.8rem;color:#555}</style>${m.html}`;
    frame.style.height = `${Math.min(640, Math.max(140, 60 + (m.text || "").split("\n").length * 24))}px`;
    article.append(frame);
  } else {
    article.append(el("pre", { class: "body-text", "data-testid": "message-text", text: m.text }));
  }
  if (m.attachments.length) {
    article.append(el("ul", { class: "attachments", "data-testid": "attachments" },
      ...m.attachments.map((a) => el("li", { text: `${a.filename} (${Math.max(1, Math.round(a.size / 1024))} KB)` }))));
  }
  return article;
}

// -- replies --------------------------------------------------------------------------------------
function setReplyStatus(text, stateName) {
  const status = $("reply-status");
  status.textContent = text;
  status.dataset.state = stateName;
}

async function sendReply(event) {
  event.preventDefault();
  const body = $("reply-body").value;
  if (!body.trim() || !state.threadId) return;
  const threadId = state.threadId;
  const replyId = crypto.randomUUID ? crypto.randomUUID() : undefined; // a retry sends the same reply once
  const button = event.submitter || $("reply-form").querySelector("button");
  button.disabled = true;
  try {
    const reply = await api(`/api/threads/${encodeURIComponent(threadId)}/replies`, { json: { body, reply_id: replyId } });
    $("reply-body").value = "";
    setReplyStatus(reply.status, reply.status);
    followReply(reply.reply_id, threadId);
  } catch (err) {
    setReplyStatus(`Not sent: ${err.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

async function followReply(replyId, threadId) {
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, i < 10 ? 1000 : 3000));
    if (state.threadId !== threadId) return;
    let reply;
    try { reply = await api(`/api/replies/${replyId}`); } catch { continue; }
    const text = reply.status === "failed" ? `failed: ${reply.error}` : reply.status;
    setReplyStatus(text, reply.status);
    if (reply.status !== "queued") {
      if (reply.status === "sent") openThread(threadId).catch(() => {});
      return;
    }
  }
}

// -- polling --------------------------------------------------------------------------------------
function startPolling() {
  stopPolling();
  state.timer = setInterval(async () => {
    if (document.hidden || !state.me) return;
    try {
      await loadFolders();
      // Refresh the first page only while the agent has not paged further (that would jump back).
      if (!state.query && !state.paged) await loadThreads();
    } catch { /* the next tick tries again */ }
  }, POLL_MS);
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

// -- wiring ---------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").hidden = true;
    try {
      const result = await api("/api/auth/login", { json: { email: $("login-email").value, password: $("login-password").value } });
      $("login-password").value = "";
      await showApp(result.user);
    } catch (err) {
      $("login-error").textContent = err.status === 401 ? "Wrong e-mail or password." : err.message;
      $("login-error").hidden = false;
    }
  });
  $("logout").addEventListener("click", async () => {
    await api("/api/auth/logout", { method: "POST" }).catch(() => {});
    state.threadId = null;
    $("thread-body").hidden = true;
    $("thread-placeholder").hidden = false;
    showLogin();
  });
  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.query = $("search-input").value.trim();
    await Promise.all([loadFolders(), loadThreads()]);
  });
  $("clear-search").addEventListener("click", () => selectFolder(state.folder));
  $("more").addEventListener("click", () => loadThreads({ append: true }));
  $("reply-form").addEventListener("submit", sendReply);
  $("mark-unread").addEventListener("click", async () => {
    const threadId = state.threadId;
    if (!threadId) return;
    await api(`/api/threads/${encodeURIComponent(threadId)}/unread`, { method: "POST" });
    showUnread(threadId, true);
  });

  try {
    await showApp(await api("/api/me"));
  } catch {
    showLogin();
  }
});
