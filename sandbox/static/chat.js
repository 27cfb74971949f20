// The sandbox's web chat: plain JavaScript, no dependencies. It renders one persona's chat
// from /api/chats/{id}/messages (long-polled with ?after=<version>) and turns what the person
// does into API calls (text, button presses, voice); the bot's reaction arrives via the feed.
"use strict";

const state = {
  personas: [],
  persona: null,
  texts: {},
  language: "da",
  version: null,
  poll: null,
  elements: new Map(),
  clock: false,
  recorder: null,
};

const ICONS = {
  download:
    '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true"><path fill="currentColor" ' +
    'd="M11 4h2v9.2l3.6-3.6 1.4 1.4-6 6-6-6 1.4-1.4 3.6 3.6z M5 18h14v2H5z"/></svg>',
};

const $ = (id) => document.getElementById(id);
const t = (key) => state.texts[key] || key;

async function api(method, path, body, headers) {
  const options = { method, headers: headers || {} };
  if (body !== undefined) {
    if (body instanceof Blob) {
      options.body = body;
    } else {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.error || response.statusText);
  }
  return data;
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- page texts -------------------------------------------------------------------------

async function loadTexts() {
  state.texts = await api("GET", "/api/texts?lang=" + encodeURIComponent(state.language));
  document.documentElement.lang = state.language;
  $("banner").textContent = t("banner");
  $("persona-label").textContent = t("persona");
  $("text").placeholder = t("placeholder");
  $("send").title = t("send");
  $("send").setAttribute("aria-label", t("send"));
  $("mic").title = t("record");
  $("mic").setAttribute("aria-label", t("record"));
  $("ff-button").title = t("fast_forward");
  $("ff-time-label").textContent = t("sandbox_time");
  $("lang").textContent = state.language === "da" ? "EN" : "DA";
  $("lang").title = t("language");
  renderPersonaOptions();
  renderSteps();
  renderStatus();
}

// ---- personas ---------------------------------------------------------------------------

function renderPersonaOptions() {
  const select = $("persona");
  select.textContent = "";
  for (const persona of state.personas) {
    const option = el("option");
    option.value = persona.key;
    const parts = [persona.name, t("role_" + persona.role)];
    if (persona.detail) parts.push(persona.detail);
    option.textContent = parts.join(" · ");
    select.appendChild(option);
  }
  if (state.persona) select.value = state.persona.key;
}

function renderStatus() {
  if (!state.persona) return;
  $("status").textContent = state.persona.role === "group"
    ? t("group_sender").replace("{name}", senderName(state.persona))
    : t("bot_status");
}

function senderName(persona) {
  const sender = state.personas.find((p) => p.user_id === persona.user_id && p.role !== "group");
  return sender ? sender.name : persona.name;
}

function choosePersona(key) {
  state.persona = state.personas.find((p) => p.key === key) || state.personas[0];
  $("persona").value = state.persona.key;
  if (state.persona.role === "group") {
    $("bot-name").textContent = state.persona.name;
    $("avatar").textContent = state.persona.name.slice(0, 1);
  } else {
    $("bot-name").textContent = state.bot.name;
    $("avatar").textContent = state.bot.name.slice(0, 1);
  }
  renderStatus();
  if (typeof renderMenuButton === "function") renderMenuButton();
  state.version = null;
  state.elements.clear();
  $("messages").textContent = "";
  history.replaceState(null, "", "#" + state.persona.key);
  restartFeed();
}

// ---- the change feed --------------------------------------------------------------------

function restartFeed() {
  if (state.poll) state.poll.abort();
  const controller = new AbortController();
  state.poll = controller;
  feed(controller, state.persona.chat_id);
}

async function feed(controller, chatId) {
  while (!controller.signal.aborted) {
    const after = state.version === null ? "" : "?after=" + state.version;
    try {
      const response = await fetch("/api/chats/" + chatId + "/messages" + after, {
        signal: controller.signal,
      });
      if (!response.ok) throw new Error(response.statusText);
      const view = await response.json();
      if (controller.signal.aborted) return;
      if (view.version !== state.version) {
        state.version = view.version;
        render(view);
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }
}

// ---- rendering --------------------------------------------------------------------------

function render(view) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const seen = new Set();
  let previous = null;
  let previousDate = null;
  const empty = box.querySelector(".empty");
  if (empty) empty.remove();
  for (const message of view.messages) {
    seen.add(message.id);
    let entry = state.elements.get(message.id);
    if (!entry || entry.key !== message.key) {
      const node = renderMessage(message);
      if (entry) {
        entry.node.replaceWith(node);
      }
      entry = { key: message.key, node, date: message.date };
      state.elements.set(message.id, entry);
    }
    // Keep the order (and a day separator before the first message of each day).
    const anchor = previous ? previous.nextSibling : box.firstChild;
    if (message.date !== previousDate) {
      let day = entry.node.previousSibling;
      if (!day || !day.classList || !day.classList.contains("day") || day.dataset.date !== message.date) {
        day = el("div", "day", message.day || message.date);
        day.dataset.date = message.date;
        box.insertBefore(day, anchor);
      } else if (day !== anchor) {
        box.insertBefore(day, anchor);
      }
      previous = day;
    }
    const after = previous ? previous.nextSibling : box.firstChild;
    if (entry.node !== after) box.insertBefore(entry.node, after);
    previous = entry.node;
    previousDate = message.date;
  }
  for (const [id, entry] of state.elements) {
    if (!seen.has(id)) {
      entry.node.remove();
      state.elements.delete(id);
    }
  }
  // Day separators left without a message after them go.
  for (const day of box.querySelectorAll(".day")) {
    const next = day.nextSibling;
    if (!next || next.classList.contains("day")) day.remove();
  }
  if (!view.messages.length) box.appendChild(el("div", "empty", t("empty_chat")));
  renderReplyKeyboard(view.reply_keyboard);
  showNotices(view.notices || [], !renderedOnce.has(view.chat_id));
  if (atBottom || !renderedOnce.has(view.chat_id)) box.scrollTop = box.scrollHeight;
  renderedOnce.add(view.chat_id);
}
const renderedOnce = new Set();
const shownNotices = new Set();

function showNotices(notices, firstLoad) {
  for (const notice of notices) {
    if (shownNotices.has(notice.id)) continue;
    shownNotices.add(notice.id);
    if (!firstLoad) toast(notice.text);
  }
}

function renderMessage(message) {
  const wrap = el("div", "msg " + (message.from_bot ? "in" : "out"));
  wrap.dataset.id = message.id;
  const bubble = el("div", "bubble");
  wrap.appendChild(bubble);
  if (state.persona.role === "group" && !message.from_bot) {
    bubble.appendChild(el("div", "sender", message.sender));
  } else if (state.persona.role === "group" && message.from_bot) {
    bubble.appendChild(el("div", "sender", state.bot.name));
  }
  if (message.photo) {
    const photo = el("div", "photo");
    const img = el("img");
    img.src = message.photo.url;
    img.alt = "";
    img.addEventListener("load", () => { $("messages").scrollTop = $("messages").scrollHeight; });
    photo.appendChild(img);
    bubble.appendChild(photo);
  }
  if (message.document) bubble.appendChild(renderDocument(message.document));
  if (message.voice) bubble.appendChild(renderVoice(message.voice));
  const meta = el("span", "meta", (message.edited ? t("edited") + " " : "") + message.time);
  const text = el("div", "text");
  // The server built this HTML from the message's entities with every piece escaped.
  text.innerHTML = message.html;
  text.appendChild(meta);
  bubble.appendChild(text);
  if (message.keyboard.length) wrap.appendChild(renderKeyboard(message));
  return wrap;
}

function renderDocument(doc) {
  const link = el("a", "doc");
  link.href = doc.url;
  link.download = doc.name;
  link.title = t("download");
  const icon = el("div", "icon");
  icon.innerHTML = ICONS.download; // a constant below, not data
  link.appendChild(icon);
  const info = el("div");
  info.appendChild(el("div", "fname", doc.name));
  info.appendChild(el("div", "fsize", formatSize(doc.size)));
  link.appendChild(info);
  return link;
}

function formatSize(bytes) {
  if (bytes < 1024) return bytes + " B";
  return (bytes / 1024).toFixed(1) + " KB";
}

function renderVoice(voice) {
  const box = el("div", "voice");
  const audio = el("audio");
  audio.src = voice.url;
  audio.preload = "none";
  const play = el("button", "play", "▶");
  play.type = "button";
  const bar = el("div", "bar");
  const heights = [6, 10, 14, 9, 16, 12, 7, 13, 18, 11, 8, 15, 10, 6, 12, 17, 9, 13, 7, 11];
  for (const h of heights) {
    const i = el("i");
    i.style.height = h + "px";
    bar.appendChild(i);
  }
  const duration = el("span", "dur", formatDuration(voice.duration));
  play.addEventListener("click", () => {
    if (audio.paused) audio.play().catch(() => toast(t("error")));
    else audio.pause();
  });
  audio.addEventListener("play", () => { play.textContent = "❚❚"; });
  audio.addEventListener("pause", () => { play.textContent = "▶"; });
  audio.addEventListener("ended", () => { play.textContent = "▶"; });
  audio.addEventListener("timeupdate", () => {
    const part = audio.duration ? audio.currentTime / audio.duration : 0;
    [...bar.children].forEach((i, n) => i.classList.toggle("done", n / heights.length < part));
  });
  box.append(play, bar, duration, audio);
  return box;
}

function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

function renderKeyboard(message) {
  const keyboard = el("div", "keyboard");
  for (const row of message.keyboard) {
    const line = el("div", "row");
    for (const button of row) {
      if (button.url) {
        const link = el("a", "", button.text);
        link.href = button.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        line.appendChild(link);
      } else if (button.web_app) {
        // A Mini App button: opens the dashboard over the chat, as Telegram does.
        const open = el("button", "web-app", button.text);
        open.type = "button";
        open.addEventListener("click", openMiniApp);
        line.appendChild(open);
      } else if (button.data !== undefined) {
        const press = el("button", "", button.text);
        press.type = "button";
        press.dataset.callback = button.data;
        press.addEventListener("click", () => pressButton(message.id, button.data));
        line.appendChild(press);
      }
    }
    keyboard.appendChild(line);
  }
  return keyboard;
}

function renderReplyKeyboard(rows) {
  const box = $("reply-keyboard");
  box.textContent = "";
  box.hidden = !rows || !rows.length;
  if (!rows) return;
  for (const row of rows) {
    const line = el("div", "row");
    for (const label of row) {
      const button = el("button", "", label);
      button.type = "button";
      button.addEventListener("click", () => sendText(label));
      line.appendChild(button);
    }
    box.appendChild(line);
  }
}

// ---- actions ----------------------------------------------------------------------------

async function sendText(text) {
  try {
    await api("POST", "/api/personas/" + state.persona.key + "/text", { text });
  } catch (error) {
    toast(error.message || t("error"));
  }
}

async function pressButton(messageId, data) {
  try {
    await api("POST", "/api/personas/" + state.persona.key + "/press", {
      message_id: messageId,
      data,
    });
  } catch (error) {
    toast(error.message || t("error"));
  }
}

async function sendSample() {
  await api("POST", "/api/personas/" + state.persona.key + "/voice?sample=1");
  toast(t("sample_sent"));
}

async function toggleRecording() {
  const mic = $("mic");
  if (state.recorder) {
    state.recorder.stop();
    return;
  }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    await sendSample().catch(() => toast(t("error")));
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    await sendSample().catch(() => toast(t("error")));
    return;
  }
  const type = ["audio/ogg;codecs=opus", "audio/webm;codecs=opus"].find(
    (candidate) => MediaRecorder.isTypeSupported(candidate)
  );
  const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  const chunks = [];
  const started = Date.now();
  recorder.addEventListener("dataavailable", (event) => chunks.push(event.data));
  recorder.addEventListener("stop", async () => {
    stream.getTracks().forEach((track) => track.stop());
    state.recorder = null;
    mic.classList.remove("recording");
    mic.title = t("record");
    const blob = new Blob(chunks, { type: recorder.mimeType || "audio/ogg" });
    const seconds = (Date.now() - started) / 1000;
    try {
      await api(
        "POST",
        "/api/personas/" + state.persona.key + "/voice?duration=" + seconds.toFixed(1),
        blob,
        { "Content-Type": blob.type || "audio/ogg" }
      );
    } catch (error) {
      toast(error.message || t("error"));
    }
  });
  state.recorder = recorder;
  mic.classList.add("recording");
  mic.title = t("recording");
  toast(t("recording"));
  recorder.start();
}

// ---- fast-forward and language ----------------------------------------------------------

const STEP_LABELS = {
  hour: "step_hour",
  day: "step_day",
  week: "step_week",
  next: "step_next",
  meeting: "step_meeting",
};

function renderSteps() {
  const box = $("ff-steps");
  box.textContent = "";
  for (const step of Object.keys(STEP_LABELS)) {
    const button = el("button", "", t(STEP_LABELS[step]));
    button.type = "button";
    button.dataset.step = step;
    button.addEventListener("click", () => moveClock(step));
    box.appendChild(button);
  }
}

function showClock(clock) {
  $("ff-time").textContent = clock.local;
}

async function moveClock(step) {
  try {
    const clock = await api("POST", "/api/clock/" + step);
    showClock(clock);
    if (!clock.moved) toast(t("nothing_ahead"));
  } catch (error) {
    toast(error.message || t("error"));
  }
}

async function switchLanguage() {
  const language = state.language === "da" ? "en" : "da";
  try {
    await api("POST", "/api/language", { language });
    state.language = language;
    await loadTexts();
    choosePersona(state.persona.key);
  } catch (error) {
    toast(error.message || t("error"));
  }
}

// ---- start ------------------------------------------------------------------------------

// ---- the Mini App (the dashboard) -------------------------------------------------------

async function openMiniApp() {
  if (!state.persona || state.persona.role === "group") return;
  let opened;
  try {
    opened = await api("GET", "/api/personas/" + state.persona.key + "/webapp");
  } catch (_error) {
    toast(t("error"));
    return;
  }
  const frame = $("mini-app-frame");
  frame.src = opened.url;
  $("mini-app").hidden = false;
}

function closeMiniApp() {
  $("mini-app").hidden = true;
  $("mini-app-frame").src = "about:blank";
}

function renderMenuButton() {
  const button = $("menu-button");
  $("menu-button-label").textContent = t("dashboard");
  $("mini-app-close").setAttribute("aria-label", t("close"));
  button.hidden = !state.dashboard || !state.persona || state.persona.role === "group";
}

async function start() {
  const info = await api("GET", "/api/personas");
  state.personas = info.personas;
  state.bot = info.bot;
  state.language = info.language;
  state.clock = info.clock;
  state.dashboard = info.dashboard;
  await loadTexts();
  $("menu-button").addEventListener("click", openMiniApp);
  $("mini-app-close").addEventListener("click", closeMiniApp);
  $("persona").addEventListener("change", (event) => choosePersona(event.target.value));
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendText(text);
  });
  $("mic").addEventListener("click", toggleRecording);
  $("lang").addEventListener("click", switchLanguage);
  if (state.clock) {
    $("ff-button").hidden = false;
    $("ff-button").addEventListener("click", async () => {
      const menu = $("ff-menu");
      menu.hidden = !menu.hidden;
      if (!menu.hidden) showClock(await api("GET", "/api/clock"));
    });
  }
  choosePersona(decodeURIComponent(location.hash.slice(1)));
}

start().catch(() => toast(t("error")));
