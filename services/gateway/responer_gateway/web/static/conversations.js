// Responer web UI, conversations: status, internal notes, merge suggestions, merge and split (with
// undo) of the open thread, from threading's record (GET /api/threads/{id}/state). Loaded after
// app.js, whose globals it uses (api, el, $, openThread, loadThreads, formatTime); it listens for
// app.js's "responer:thread-opened" event. All text goes in with textContent.
"use strict";

const conv = { threadId: null, lastUndo: null, on: null };

// Only where threading answers (GET /api/features): the panel stays empty otherwise.
async function threadingOn() {
  if (conv.on === null) {
    const features = await api("/api/features").catch(() => ({}));
    conv.on = Boolean(features.threading);
  }
  return conv.on;
}

function convStatus(text, kind = "") {
  const status = $("conversation-status");
  if (!status) return;
  status.textContent = text;
  status.dataset.state = kind;
}

async function convAction(fn, done) {
  try {
    const result = await fn();
    if (done) done(result);
    await openThread(conv.threadId);
    if (typeof loadThreads === "function") loadThreads().catch(() => {});
  } catch (err) {
    convStatus(err.message, "error");
  }
}

function statusControl(state) {
  const select = el("select", { "data-testid": "status-select", "aria-label": "Status" },
    ...["open", "pending", "closed"].map((s) => el("option", { value: s, text: s, selected: s === state.status })));
  select.addEventListener("change", () => convAction(() =>
    api(`/api/threads/${encodeURIComponent(state.thread_id)}/status`, { method: "PUT", json: { status: select.value } })));
  return el("label", { class: "conv-status" }, "Status ", select);
}

function suggestionsView(state) {
  const open = state.merge_suggestions.filter((s) => s.state === "open");
  return open.map((s) => {
    const accept = el("button", { type: "button", class: "primary", "data-testid": "merge-suggestion-accept",
      text: `Merge into #${s.target_number}` });
    accept.addEventListener("click", () => convAction(
      () => api(`/api/threads/${encodeURIComponent(state.thread_id)}/merge-suggestions/${encodeURIComponent(s.suggestion_id)}/accept`, { method: "POST" }),
      (result) => { conv.lastUndo = { kind: "merge", id: result.merge_id }; conv.threadId = s.target_thread_id; }));
    const dismiss = el("button", { type: "button", class: "link", "data-testid": "merge-suggestion-dismiss", text: "Keep apart" });
    dismiss.addEventListener("click", () => convAction(() =>
      api(`/api/threads/${encodeURIComponent(state.thread_id)}/merge-suggestions/${encodeURIComponent(s.suggestion_id)}/dismiss`, { method: "POST" })));
    return el("p", { class: "conv-suggestion", "data-testid": "merge-suggestion" },
      el("span", { text: `Suggested: the same customer's #${s.target_number} is still unanswered. ` }), accept, " ", dismiss);
  });
}

function mergeForm(state) {
  const number = el("input", { type: "number", min: "1", placeholder: "#", "data-testid": "merge-into-number", "aria-label": "Merge into thread number" });
  const form = el("form", { class: "conv-merge", "data-testid": "merge-form" }, "Merge into ", number,
    el("button", { type: "submit", "data-testid": "merge-submit", text: "Merge" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const into = Number(number.value);
    if (!into) return;
    convAction(
      () => api(`/api/threads/${encodeURIComponent(state.thread_id)}/merge`, { method: "POST", json: { into_number: into } }),
      (result) => { conv.lastUndo = { kind: "merge", id: result.merge_id }; conv.threadId = result.target.thread_id; });
  });
  return form;
}

function undoButton() {
  if (!conv.lastUndo) return null;
  const { kind, id } = conv.lastUndo;
  const button = el("button", { type: "button", class: "link", "data-testid": `${kind}-undo`, text: `Undo ${kind}` });
  button.addEventListener("click", () => convAction(
    () => api(`/api/${kind === "merge" ? "merges" : "splits"}/${encodeURIComponent(id)}/undo`, { method: "POST" }),
    (result) => { conv.lastUndo = null; conv.threadId = kind === "merge" ? result.source.thread_id : result.source.thread_id; }));
  return button;
}

function membersView(state) {
  if (state.messages.length < 2) return null;
  return el("details", { class: "conv-members", "data-testid": "thread-members" },
    el("summary", { text: "Messages and why they are here" }),
    el("ol", {}, ...state.messages.map((m, index) => {
      const item = el("li", { "data-testid": "thread-member" },
        el("span", { text: `${m.from_email} · ${m.subject} · ` }),
        el("span", { class: "muted", "data-testid": "thread-member-signal", text: m.signal_detail ? `${m.signal}: ${m.signal_detail}` : m.signal }));
      if (index > 0) {
        const split = el("button", { type: "button", class: "link", "data-testid": "split-message", text: "Split from here" });
        split.addEventListener("click", () => convAction(
          () => api(`/api/threads/${encodeURIComponent(state.thread_id)}/split`, { method: "POST", json: { message_id: m.message_id, with_following: true } }),
          (result) => { conv.lastUndo = { kind: "split", id: result.split_id }; conv.threadId = result.new_thread.thread_id; }));
        item.append(" ", split);
      }
      return item;
    })));
}

function notesView(state) {
  const notes = state.notes.filter((n) => !n.deleted);
  const list = el("ul", { class: "conv-notes", "data-testid": "notes" }, ...notes.map((n) => {
    const remove = el("button", { type: "button", class: "link", "data-testid": "note-delete", text: "Delete" });
    remove.addEventListener("click", () => convAction(() =>
      api(`/api/threads/${encodeURIComponent(state.thread_id)}/notes/${encodeURIComponent(n.note_id)}`, { method: "DELETE" })));
    return el("li", { class: "note", "data-testid": "note" },
      el("pre", { class: "body-text", "data-testid": "note-body-text", text: n.body }),
      el("span", { class: "muted", text: `${n.created_at ? formatTime(n.created_at) : ""}${n.edited_at ? " (edited)" : ""} ` }), remove);
  }));
  const body = el("textarea", { rows: "2", "data-testid": "note-body", "aria-label": "Internal note",
    placeholder: "Internal note — never sent to the customer. @anna@example.com mentions a colleague." });
  const form = el("form", { class: "conv-note-form", "data-testid": "note-form" }, body,
    el("button", { type: "submit", "data-testid": "note-add", text: "Add note" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!body.value.trim()) return;
    convAction(() => api(`/api/threads/${encodeURIComponent(state.thread_id)}/notes`, { method: "POST", json: { body: body.value } }));
  });
  return el("section", { class: "conv-notes-box", "aria-label": "Internal notes" }, el("h3", { text: "Internal notes" }), list, form);
}

async function renderConversation(thread) {
  const panel = $("conversation-panel");
  if (!panel) return;
  if (panel.dataset.threadId !== thread.id) {
    panel.replaceChildren(); // no controls of the previous thread while this one loads
    delete panel.dataset.threadId;
  }
  conv.threadId = thread.id;
  if (!(await threadingOn())) {
    panel.replaceChildren();
    return;
  }
  let state;
  try {
    state = await api(`/api/threads/${encodeURIComponent(thread.id)}/state`);
  } catch (err) {
    panel.replaceChildren(el("p", { class: "muted", text: `Threading: ${err.message}` }));
    return;
  }
  if (conv.threadId !== thread.id) return;
  $("thread-status").textContent = state.status;
  const merged = state.merged_into_thread_id
    ? el("p", { "data-testid": "merged-into", text: `Merged into #${state.merged_into_number}.` }) : null;
  panel.dataset.threadId = state.thread_id;
  panel.replaceChildren(...[
    el("div", { class: "conv-row" }, statusControl(state), mergeForm(state), undoButton(),
      el("span", { id: "conversation-status", role: "status", "data-testid": "conversation-status" })),
    merged, ...suggestionsView(state), membersView(state), notesView(state),
  ].filter(Boolean));
}

document.addEventListener("responer:app-shown", () => { conv.on = null; });
document.addEventListener("responer:thread-opened", (event) => { renderConversation(event.detail); });
