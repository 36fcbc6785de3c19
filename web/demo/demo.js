// demo.js — the demo page's logic (web/demo/index.html): sign in, show
// /api/me/, refresh silently before the access token expires, list the
// sessions with a revoke button each, sign out. Plain JavaScript, no build
// step, no inline code (the page's CSP allows only script-src 'self').
//
// Works with every AUTH_COOKIE_MODE:
//   both     the tokens travel in HttpOnly cookies; this script holds none;
//   refresh  the refresh token is an HttpOnly cookie; the access token is
//            kept in memory here and sent as `Authorization: Bearer`;
//   off      both tokens in memory (lost on reload): a fallback only.
// In cookie mode every unsafe request carries `X-CSRF-Token` (the readable
// `csrftoken` cookie), and the browser's Origin header, which the server
// checks against AUTH_TRUSTED_ORIGINS. Every fetch says
// `referrerPolicy: "same-origin"`: under `no-referrer` Chromium sends
// `Origin: null` on a same-origin POST, and the server refuses that.
"use strict";

(() => {
  // /api/me/ and the session list are read again this often: a session
  // revoked elsewhere (another tab, another device) signs this page out.
  const POLL_MS = 3000;
  // A refresh that failed for want of a network is tried again after this.
  const RETRY_MS = 5000;

  const state = {
    access: null, // refresh mode (and off): the access token, in memory only
    refresh: null, // cookie mode off only: the refresh token, in memory only
    expiresAt: 0, // ms since the epoch
    lifetime: 0, // s, as the last answer gave it
    refreshes: 0,
    signedIn: false,
  };
  const timers = { refresh: null, poll: null, tick: null };
  let inflightRefresh = null;

  const $ = (id) => document.getElementById(id);

  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === name) {
        return decodeURIComponent(part.slice(eq + 1).trim());
      }
    }
    return null;
  }

  // call(method, path, body, {bearer}): one API request; resolves to
  // {status, data} (data: the parsed JSON body, or null); rejects only when
  // nothing answered (network).
  async function call(method, path, body, { bearer = true } = {}) {
    const headers = { Accept: "application/json" };
    const init = {
      method,
      headers,
      credentials: "same-origin",
      referrerPolicy: "same-origin",
      cache: "no-store",
    };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (bearer && state.access) headers.Authorization = `Bearer ${state.access}`;
    if (method !== "GET" && method !== "HEAD") {
      const csrf = cookie("csrftoken");
      if (csrf) headers["X-CSRF-Token"] = csrf;
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { detail: text };
      }
    }
    return { status: res.status, data };
  }

  function describe(res) {
    const d = res.data || {};
    const detail = typeof d.detail === "string" ? d.detail : `HTTP ${res.status}`;
    return d.code ? `${detail} (${d.code})` : detail;
  }

  function setStatus(text, isError = false) {
    const el = $("status");
    el.textContent = text;
    el.classList.toggle("error", isError);
  }

  function setPageState(name) {
    document.body.dataset.state = name;
    $("signin").hidden = name !== "signed-out";
    $("account").hidden = name !== "signed-in";
  }

  // ---- tokens

  // Seconds left on a JWT, from its `exp` (cookie mode off: the answer has no
  // expires_in). Not a verification: the server does that.
  function jwtSecondsLeft(token) {
    try {
      const b64 = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(b64));
      return Math.max(1, claims.exp - Date.now() / 1000);
    } catch {
      return 60;
    }
  }

  // accept(body): the answer of a login or refresh.
  function accept(body) {
    state.access = typeof body.access === "string" ? body.access : null;
    if (typeof body.refresh === "string") state.refresh = body.refresh;
    let expiresIn = Number(body.expires_in);
    if (!Number.isFinite(expiresIn) || expiresIn <= 0) {
      expiresIn = state.access ? jwtSecondsLeft(state.access) : 60;
    }
    state.lifetime = expiresIn;
    state.expiresAt = Date.now() + expiresIn * 1000;
    scheduleRefresh();
    renderToken();
  }

  // Refresh this many seconds before expiry: a quarter of the lifetime,
  // between 2 and 30 seconds.
  function margin() {
    return Math.min(30, Math.max(2, Math.round(state.lifetime / 4)));
  }

  function scheduleRefresh(delayMs) {
    clearTimeout(timers.refresh);
    const due = delayMs ?? state.expiresAt - margin() * 1000 - Date.now();
    timers.refresh = setTimeout(silentRefresh, Math.max(0, due));
  }

  async function silentRefresh() {
    const r = await refresh();
    if (r.ok) {
      state.refreshes += 1;
      renderToken();
    } else if (r.network) {
      setStatus("No answer from the server; trying again in a moment.", true);
      scheduleRefresh(RETRY_MS);
    } else {
      signedOut(`The session ended: ${describe(r.res)}.`);
    }
  }

  // refresh(): one refresh at a time per page; concurrent callers share it.
  // Resolves to {ok, res} or {ok: false, network: true}.
  function refresh() {
    if (!inflightRefresh) {
      inflightRefresh = doRefresh().finally(() => {
        inflightRefresh = null;
      });
    }
    return inflightRefresh;
  }

  async function doRefresh() {
    const body = state.refresh ? { refresh: state.refresh } : {};
    let res;
    try {
      res = await call("POST", "/api/token/refresh/", body, { bearer: false });
    } catch {
      return { ok: false, network: true };
    }
    if (res.status === 200 && res.data) {
      accept(res.data);
      return { ok: true, res };
    }
    return { ok: false, res };
  }

  // authed(...): a request that needs the session. A 401 gets one refresh
  // and one more try; a session that cannot be refreshed signs the page out.
  async function authed(method, path, body) {
    let res;
    try {
      res = await call(method, path, body);
      if (res.status === 401) {
        const r = await refresh();
        if (!r.ok) {
          if (r.network) return null;
          signedOut(`The session ended: ${describe(r.res)}.`);
          return null;
        }
        res = await call(method, path, body);
        if (res.status === 401) {
          signedOut(`The session ended: ${describe(res)}.`);
          return null;
        }
      }
    } catch {
      setStatus("No answer from the server.", true);
      return null;
    }
    return res;
  }

  // ---- signed in / out

  async function enter() {
    state.signedIn = true;
    setPageState("signed-in");
    setStatus("Signed in.");
    clearInterval(timers.tick);
    timers.tick = setInterval(renderToken, 1000);
    await loadAll();
    schedulePoll();
  }

  function schedulePoll() {
    clearTimeout(timers.poll);
    timers.poll = setTimeout(async () => {
      if (!state.signedIn) return;
      await loadAll();
      if (state.signedIn) schedulePoll();
    }, POLL_MS);
  }

  function signedOut(message, isError = true) {
    state.signedIn = false;
    state.access = null;
    state.refresh = null;
    state.expiresAt = 0;
    for (const t of Object.values(timers)) {
      clearTimeout(t);
      clearInterval(t);
    }
    $("me").textContent = "";
    $("sessions-body").replaceChildren();
    setPageState("signed-out");
    setStatus(message, isError);
  }

  async function loadAll() {
    const me = await authed("GET", "/api/me/");
    if (!me || !state.signedIn) return;
    if (me.status !== 200) {
      setStatus(`GET /api/me/: ${describe(me)}`, true);
      return;
    }
    $("me-username").textContent = me.data.username;
    $("me").textContent = JSON.stringify(me.data, null, 2);
    const sessions = await authed("GET", "/api/sessions/");
    if (!sessions || !state.signedIn) return;
    if (sessions.status === 200 && Array.isArray(sessions.data)) {
      renderSessions(sessions.data);
    } else {
      setStatus(`GET /api/sessions/: ${describe(sessions)}`, true);
    }
  }

  // ---- rendering (textContent only: user agents are whatever clients sent)

  function renderToken() {
    if (!state.signedIn && !state.expiresAt) return;
    $("token-mode").textContent = state.refresh
      ? "in this page's memory (cookie mode off: lost on reload)"
      : state.access
        ? "in this page's memory, the refresh token in an HttpOnly cookie"
        : "in an HttpOnly cookie";
    $("expires-in").textContent = String(Math.max(0, Math.round((state.expiresAt - Date.now()) / 1000)));
    $("margin").textContent = String(margin());
    $("refresh-count").textContent = String(state.refreshes);
  }

  function when(value) {
    return value ? new Date(value).toLocaleString() : "—";
  }

  function renderSessions(list) {
    const rows = list.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.sessionId = s.id;
      if (s.current) tr.className = "current";
      const cells = [when(s.created_at), when(s.last_refreshed_at), s.user_agent || "—", s.ip || "—"];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      tr.children[2].className = "client";
      tr.children[2].title = s.user_agent || "";
      const td = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "revoke";
      button.dataset.id = s.id;
      button.textContent = "Revoke";
      td.append(button);
      tr.append(td);
      return tr;
    });
    $("sessions-body").replaceChildren(...rows);
  }

  // ---- actions

  async function onLogin(event) {
    event.preventDefault();
    const error = $("login-error");
    error.hidden = true;
    const button = $("login");
    button.disabled = true;
    try {
      const res = await call(
        "POST",
        "/api/token/",
        { username: $("username").value, password: $("password").value },
        { bearer: false },
      );
      if (res.status === 200 && res.data) {
        $("password").value = "";
        state.refreshes = 0;
        accept(res.data);
        await enter();
      } else {
        error.textContent = describe(res);
        error.hidden = false;
      }
    } catch {
      error.textContent = "No answer from the server.";
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async function onSignOut() {
    const body = state.refresh ? { refresh: state.refresh } : {};
    let message = "Signed out.";
    try {
      const res = await call("POST", "/api/token/blacklist/", body, { bearer: false });
      if (res.status !== 200) message = `Signed out here; the server said: ${describe(res)}.`;
    } catch {
      message = "Signed out here; the server did not answer.";
    }
    signedOut(message, false);
  }

  async function onRefreshNow() {
    const r = await refresh();
    if (r.ok) {
      state.refreshes += 1;
      renderToken();
      setStatus("Refreshed.");
    } else if (r.network) {
      setStatus("No answer from the server.", true);
    } else {
      signedOut(`The session ended: ${describe(r.res)}.`);
    }
  }

  async function onRevoke(event) {
    const button = event.target.closest("button.revoke");
    if (!button) return;
    const row = button.closest("tr");
    const current = row && row.classList.contains("current");
    button.disabled = true;
    const res = await authed("DELETE", `/api/sessions/${encodeURIComponent(button.dataset.id)}/`);
    if (!res) return;
    if (res.status === 204 || res.status === 404) {
      if (current) {
        signedOut("This session was revoked.", false);
        return;
      }
      setStatus("Session revoked.");
    } else {
      setStatus(`DELETE /api/sessions/: ${describe(res)}`, true);
      button.disabled = false;
    }
    await loadAll();
  }

  async function start() {
    $("login-form").addEventListener("submit", onLogin);
    $("sign-out").addEventListener("click", onSignOut);
    $("refresh-now").addEventListener("click", onRefreshNow);
    $("sessions-body").addEventListener("click", onRevoke);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && state.signedIn) loadAll();
    });
    // A csrftoken cookie means a cookie session may be there: resume it
    // with a refresh (which also tells when the access token expires).
    if (cookie("csrftoken")) {
      setStatus("Resuming the session…");
      const r = await refresh();
      if (r.ok) {
        await enter();
        return;
      }
    }
    signedOut("Not signed in.", false);
  }

  start();
})();
