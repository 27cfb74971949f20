"use strict";
// The team's dashboard inside Telegram (docs/dashboard.md). Telegram passes the signed
// initData in the URL fragment (#tgWebAppData=...); it is kept in memory only and sent with
// every request as "Authorization: tma <initData>". Everything shown is built with
// textContent, except the charts: SVG the server drew and escaped (webapp/charts.py).
(function () {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const tg = window.Telegram && window.Telegram.WebApp;
  const initData = fragment.get("tgWebAppData") || (tg && tg.initData) || "";
  const view = document.getElementById("view");
  const tabs = document.getElementById("tabs");
  const toast = document.getElementById("toast");
  let T = {};
  let me = null;
  let current = null;

  // A score or mean with one decimal as the member's language writes it ("5,1" in Danish).
  function decimal(value) {
    return Number(value).toLocaleString(me ? me.language : "da", {
      minimumFractionDigits: 1, maximumFractionDigits: 1,
    });
  }

  applyTheme();

  function applyTheme() {
    let theme = null;
    try {
      theme = JSON.parse(fragment.get("tgWebAppThemeParams") || "null");
    } catch (_error) {
      theme = null;
    }
    theme = theme || (tg && tg.themeParams) || null;
    if (!theme) return;
    const names = {
      bg_color: "--bg", text_color: "--text", hint_color: "--hint", link_color: "--link",
      button_color: "--button", button_text_color: "--button-text",
      secondary_bg_color: "--card",
    };
    for (const key in names) {
      if (typeof theme[key] === "string" && /^#[0-9a-fA-F]{3,8}$/.test(theme[key])) {
        document.documentElement.style.setProperty(names[key], theme[key]);
      }
    }
  }

  // ------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const key in attrs || {}) {
      const value = attrs[key];
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function chart(svg) {
    // The server's SVG, already escaped there; nothing else is ever inserted as markup.
    const holder = el("div", { class: "chart-holder" });
    if (svg) holder.innerHTML = svg;
    return holder;
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, body) {
    const options = { headers: { Authorization: "tma " + initData } };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch("/app/api/" + path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (_error) {
      data = null;
    }
    if (!response.ok) {
      throw new ApiError(response.status, (data && data.message) || T.error || String(response.status));
    }
    return data;
  }

  function say(text) {
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(say.timer);
    say.timer = setTimeout(function () { toast.hidden = true; }, 2600);
  }

  function showError(error) {
    view.replaceChildren(el("p", { class: "error", id: "error" }, error.message || T.error));
  }

  function loading() {
    view.replaceChildren(el("p", { class: "muted" }, T.loading || "…"));
  }

  // ------------------------------------------------------------ the views

  const VIEWS = {
    residents: { label: "tab_residents", show: showResidents },
    board: { label: "tab_board", show: showBoard },
    trials: { label: "tab_trials", show: showTrials },
    moments: { label: "tab_moments", show: function () { return showMoments({}); } },
    pulse: { label: "tab_pulse", show: showPulse },
    meetings: { label: "tab_meetings", show: showMeetings },
    overview: { label: "tab_overview", show: showOverview },
  };

  async function showResidents() {
    const data = await api("residents");
    if (!data.residents.length) return [el("p", { class: "muted" }, T.no_residents)];
    return data.residents.map(function (r) {
      return el(
        "div",
        { class: "card tap resident", "data-id": r.id, onclick: function () { open(showCard, r.id); } },
        el("div", { class: "row" }, el("h3", null, r.alias), el("span", { class: "badge" }, r.moments + " " + T.moments_count)),
        r.approach.length ? el("ul", { class: "approach" }, r.approach.map(function (line) { return el("li", null, line); })) : null,
      );
    });
  }

  async function showCard(residentId) {
    const card = await api("residents/" + residentId);
    return [
      el("button", { class: "secondary", onclick: function () { select("residents"); } }, "‹ " + T.back),
      el("h2", null, card.alias),
      el("div", { class: "card", id: "approach" },
        el("h3", null, card.approach_heading),
        card.approach.length
          ? el("ul", { class: "approach" }, card.approach.map(function (line) { return el("li", null, line); }))
          : el("p", { class: "muted small" }, "–")),
      el("div", { class: "card", id: "matters" },
        el("div", { class: "row" }, el("h3", null, card.matters_heading), el("span", { class: "badge" }, card.total + " " + T.moments_count)),
        card.matters.length
          ? el("ul", { class: "matters" }, card.matters.map(function (m) {
              return el("li", null,
                el("div", { class: "row" }, el("span", null, m.label), el("strong", null, m.count)),
                m.example ? el("div", { class: "example" }, "“" + m.example + "”") : null);
            }))
          : el("p", { class: "muted" }, T.nothing_noted)),
    ];
  }

  async function showBoard() {
    const data = await api("board");
    return [el("div", { class: "board" }, data.columns.map(function (column) {
      return el("section", { class: "column", "data-step": column.step },
        el("h3", null, column.label),
        column.cases.length ? column.cases.map(caseCard) : el("p", { class: "muted small" }, T.no_cases));
    }))];
  }

  function caseCard(c) {
    const box = el("div", { class: "card case", "data-id": c.id },
      el("strong", null, "#" + c.number + " " + c.alias),
      el("div", { class: "small" }, c.waiting),
      c.overdue ? el("div", { class: "overdue" }, c.overdue) : null);
    if (c.can_add_perspective) {
      const button = el("button", { class: "primary add-perspective" }, T.add_perspective);
      button.addEventListener("click", function () { perspectiveForm(box, c, button); });
      box.append(button);
    }
    return box;
  }

  async function perspectiveForm(box, c, button) {
    button.hidden = true;
    const detail = await api("cases/" + c.id).catch(function () { return {}; });
    const text = el("textarea", { maxlength: 1000, placeholder: T.perspective_placeholder, "aria-label": T.your_perspective });
    text.value = detail.my_perspective || "";
    const save = el("button", { class: "primary save-perspective" }, T.save);
    const cancel = el("button", { class: "secondary" }, T.cancel);
    const problem = el("div", { class: "error small" });
    const form = el("div", { class: "perspective-form" }, text, problem, save, cancel);
    cancel.addEventListener("click", function () { form.remove(); button.hidden = false; });
    save.addEventListener("click", async function () {
      save.disabled = true;
      try {
        await api("cases/" + c.id + "/perspective", { text: text.value });
        form.replaceChildren(el("div", { class: "small saved" }, T.saved));
        say(T.saved);
      } catch (error) {
        problem.textContent = error.message;
        save.disabled = false;
      }
    });
    box.append(form);
    text.focus();
  }

  async function showTrials() {
    const data = await api("trials");
    if (!data.trials.length) return [el("p", { class: "muted" }, T.no_trials)];
    const colours = ["var(--good)", "var(--bad)", "var(--neutral)"];
    return data.trials.map(function (t) {
      return el("div", { class: "card trial", "data-id": t.id },
        el("div", { class: "row" }, el("h3", null, t.title), el("span", { class: "badge" }, t.outcome_label || t.status_label)),
        t.alias ? el("div", { class: "small muted" }, t.alias) : null,
        el("dl", { class: "plan" },
          el("dt", null, T.aim), el("dd", null, t.aim),
          el("dt", null, T.measure), el("dd", null, t.measure),
          el("dt", null, T.action), el("dd", null, t.action),
          el("dt", null, T.period), el("dd", null, t.starts_on + " – " + t.ends_on +
            (t.days_left !== null ? " · " + t.days_left + " " + T.days_left : ""))),
        el("div", { class: "small" }, T.checkins + ": " + t.checkins.helped + " / " + t.checkins.not_helped + " / " +
          t.checkins.not_relevant + " · " + t.checkins.members + " " + T.answered_by),
        t.chart ? chart(t.chart) : null,
        t.chart ? el("div", { class: "legend" }, data.legend.map(function (name, i) {
          const item = el("span", null, name);
          item.style.setProperty("--c", colours[i]);
          return item;
        })) : null);
    });
  }

  async function showMoments(filter) {
    const query = new URLSearchParams();
    if (filter.resident) query.set("resident", filter.resident);
    if (filter.marker) query.set("marker", filter.marker);
    const data = await api("moments?" + query.toString());
    const resident = el("select", { id: "filter-resident", "aria-label": T.all_residents },
      el("option", { value: "" }, T.all_residents),
      data.residents.map(function (r) { return el("option", { value: r.id, selected: String(r.id) === String(filter.resident || "") }, r.alias); }));
    const marker = el("select", { id: "filter-marker", "aria-label": T.all_markers },
      el("option", { value: "" }, T.all_markers),
      data.markers.map(function (m) { return el("option", { value: m.key, selected: m.key === (filter.marker || "") }, m.label); }));
    function refilter() {
      run(function () { return showMoments({ resident: resident.value, marker: marker.value }); });
    }
    resident.addEventListener("change", refilter);
    marker.addEventListener("change", refilter);
    const list = el("div", { id: "notes" });
    appendNotes(list, data, query);
    return [el("div", { class: "filters" }, resident, marker), el("div", { class: "card" }, chart(data.chart)), list];
  }

  function appendNotes(list, data, query) {
    if (!data.notes.length && !list.children.length) {
      list.append(el("p", { class: "muted" }, T.no_moments));
      return;
    }
    for (const n of data.notes) {
      list.append(el("div", { class: "card note", "data-id": n.id },
        el("div", { class: "row" }, el("strong", null, n.alias), el("span", { class: "small muted" }, n.when)),
        el("div", { class: "text" }, n.text),
        n.markers.length ? el("div", { class: "markers" }, n.markers.join(" · ")) : null));
    }
    if (data.more) {
      const more = el("button", { class: "secondary show-more" }, T.show_more);
      more.addEventListener("click", async function () {
        more.disabled = true;
        const next = new URLSearchParams(query);
        next.set("before", data.notes[data.notes.length - 1].id);
        try {
          const page = await api("moments?" + next.toString());
          more.remove();
          appendNotes(list, page, query);
        } catch (error) {
          more.disabled = false;
          say(error.message);
        }
      });
      list.append(more);
    }
  }

  async function showPulse() {
    const data = await api("pulse");
    if (!data.latest) return [el("p", { class: "muted" }, T.no_pulse)];
    const latest = data.latest;
    const parts = [el("div", { class: "card", id: "pulse-latest" },
      el("div", { class: "row" }, el("h3", null, latest.closed_on), el("span", { class: "badge" }, latest.answers + " " + T.answers)),
      latest.visible ? el("div", null, T.score + ": ", el("strong", { id: "pulse-score" }, decimal(latest.score))) : el("p", { class: "muted", id: "pulse-hidden" }, latest.message))];
    if (data.chart) parts.push(el("div", { class: "card" }, chart(data.chart)));
    if (latest.statements.length) {
      parts.push(el("div", { class: "card" }, el("h3", null, T.statements), latest.statements.map(function (s) {
        const fill = el("div", { class: "bar-fill" });
        fill.style.width = Math.max(0, Math.min(100, ((s.mean - 1) / 6) * 100)) + "%";
        return el("div", { class: "statement small", style: "margin: 8px 0" },
          el("div", { class: "row" }, el("span", null, s.text), el("strong", null, decimal(s.mean))),
          el("div", { class: "bar-track" }, fill));
      })));
    }
    return parts;
  }

  async function showMeetings() {
    const data = await api("meetings");
    if (!data.meetings.length) return [el("p", { class: "muted" }, T.no_meetings)];
    return data.meetings.map(meetingCard);
  }

  function meetingCard(m) {
    const box = el("div", { class: "card meeting", "data-id": m.id }, el("h3", null, m.title));
    if (!m.entries.length) box.append(el("p", { class: "muted small" }, T.nothing_on_agenda));
    if (m.minutes) {
      box.append(el("ul", { class: "entries" }, m.entries.map(function (e) {
        return el("li", null, el("span", null, (e.discussed ? "✓ " : "") + e.line));
      })));
      if (m.minutes.decision) box.append(el("p", { class: "small" }, el("strong", null, T.decided + ": "), m.minutes.decision));
      return box;
    }
    if (!m.can_write_minutes) {
      box.append(el("ul", { class: "entries" }, m.entries.map(function (e) { return el("li", null, el("span", null, e.line)); })));
      return box;
    }
    const ticks = m.entries.map(function (e) {
      return { entry: e, box: el("input", { type: "checkbox", "data-kind": e.kind, "data-ref": e.ref_id }) };
    });
    const decision = el("textarea", { maxlength: 1000, placeholder: T.decision_placeholder, class: "decision" });
    const save = el("button", { class: "primary save-minutes" }, T.save_minutes);
    const problem = el("div", { class: "error small" });
    box.append(
      el("p", { class: "small muted" }, T.minutes_hint),
      el("ul", { class: "entries" }, ticks.map(function (t) { return el("li", null, el("label", null, t.box), el("span", null, t.entry.line)); })),
      decision, problem, save);
    save.addEventListener("click", async function () {
      save.disabled = true;
      const discussed = ticks.filter(function (t) { return t.box.checked; }).map(function (t) { return [t.entry.kind, t.entry.ref_id]; });
      try {
        await api("meetings/" + m.id + "/minutes", { discussed: discussed, decision: decision.value });
        say(T.minutes_saved);
        run(showMeetings);
      } catch (error) {
        problem.textContent = error.message;
        save.disabled = false;
      }
    });
    return box;
  }

  async function showOverview() {
    const data = await api("overview");
    const parts = [el("p", { class: "small muted" }, data.period + " · " + T.overview_note)];
    for (const site of data.sites) {
      parts.push(el("h2", null, site.name));
      for (const t of site.teams) {
        const figures = [
          [T.moments_30, t.moments], [T.residents_noted, t.residents_noted],
          [T.cases_opened, t.cases_opened], [T.cases_closed, t.cases_closed],
          [T.open_cases, t.open_cases], [T.trials_running, t.trials_running],
          [T.kept_adjusted_dropped, t.kept + " / " + t.adjusted + " / " + t.dropped],
          [T.meetings_held, t.meetings_with_minutes],
          [T.pulse, t.pulse_score !== null ? decimal(t.pulse_score) : t.pulse_note],
        ];
        parts.push(el("div", { class: "card team-figures", "data-id": t.id },
          el("h3", null, t.name),
          el("dl", { class: "figures" }, figures.map(function (f) {
            return [el("dt", null, f[0]), el("dd", null, f[1])];
          }))));
      }
    }
    return parts;
  }

  // ------------------------------------------------------------ navigation

  async function run(show, argument) {
    loading();
    try {
      view.replaceChildren(...(await show(argument)));
    } catch (error) {
      showError(error);
    }
  }

  function open(show, argument) {
    run(show, argument);
    window.scrollTo(0, 0);
  }

  function select(name) {
    current = name;
    for (const button of tabs.children) {
      button.setAttribute("aria-selected", String(button.dataset.view === name));
    }
    open(VIEWS[name].show);
  }

  function header() {
    document.getElementById("team-name").textContent = me.team ? me.team.name : T.tab_overview;
    document.getElementById("role").textContent = me.role_label || "";
    const switcher = document.getElementById("team-switch");
    if (me.teams.length > 1) {
      switcher.replaceChildren(...me.teams.map(function (t) {
        return el("option", { value: t.id, selected: me.team && t.id === me.team.id }, t.name);
      }));
      switcher.hidden = false;
      switcher.onchange = async function () {
        try {
          await api("team", { team_id: Number(switcher.value) });
          await start();
        } catch (error) {
          say(error.message);
        }
      };
    }
    tabs.replaceChildren(...me.views.map(function (name) {
      return el("button", { role: "tab", "data-view": name, onclick: function () { select(name); } }, T[VIEWS[name].label]);
    }));
  }

  async function start() {
    try {
      me = await api("me");
    } catch (error) {
      document.getElementById("top").hidden = true;
      tabs.hidden = true;
      showError(error);
      return;
    }
    T = me.texts;
    document.documentElement.lang = me.language;
    header();
    if (tg && tg.ready) tg.ready();
    const wanted = fragment.get("view");
    select(me.views.includes(wanted) ? wanted : (current && me.views.includes(current) ? current : me.views[0]));
  }

  start();
})();
