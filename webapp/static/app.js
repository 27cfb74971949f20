"use strict";
// The dashboard's first page: who you are and the team's residents.
(function () {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const initData = fragment.get("tgWebAppData") || (window.Telegram && Telegram.WebApp && Telegram.WebApp.initData) || "";
  const root = document.getElementById("app");
  function show(text, cls) {
    const p = document.createElement("p");
    p.textContent = text;
    if (cls) p.className = cls;
    root.replaceChildren(p);
  }
  async function api(path) {
    const response = await fetch("/app/api/" + path, { headers: { Authorization: "tma " + initData } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || response.status);
    return body;
  }
  api("me")
    .then(function (me) {
      if (!me.team) return show(me.name || "", "muted");
      return api("residents").then(function (data) {
        const h = document.createElement("h1");
        h.textContent = me.team.name;
        const list = document.createElement("ul");
        data.residents.forEach(function (r) {
          const li = document.createElement("li");
          li.textContent = r.alias + " (" + r.moments + ")";
          list.appendChild(li);
        });
        root.replaceChildren(h, list);
      });
    })
    .catch(function (error) { show(error.message, "error"); });
})();
