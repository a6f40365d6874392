/* headwater.js: first-party clickstream tracker (plain ES2017, no build step).
 *
 *   <script src="https://collect.example.com/t.js"></script>
 *   <script>headwater.init({writeKey: "KEY"})</script>
 *
 * Calls made before the script loads may be queued as `window.headwater = [["track", ...], ...]`.
 * Events are Segment-style objects POSTed as a JSON array to `endpoint?k=writeKey`, `sentAt` set at
 * each attempt. Ids: `hw_aid` (anonymous, 2 years) and `hw_sid` (session, sliding 30 minutes) are
 * first-party cookies; the user id of `identify` is kept in localStorage.
 * Options of init: writeKey, endpoint (default: this script's origin + "/collect"), batchSize (20),
 * flushIntervalMs (2000), autoPage (true: on load, pushState, popstate), autoClicks (true: links
 * and buttons, as track "click"), channel ("web"), sessionTimeoutS (1800), cookieDomain.
 *
 * Delivery is at least once. The queue is kept in localStorage under one key per page load; the
 * next page of the same tab adopts it, and so does any page once it has been silent 5 minutes.
 * Events leave it on a 2xx answer (or a 4xx other than 429: final, logged once), or when the
 * browser accepts the pagehide beacon; network errors, 5xx and 429 are retried with exponential
 * backoff (1 s, 2 s, ... 60 s, each randomly shortened by up to half; Retry-After honoured). While
 * retrying, no beacon is sent (it could not be retried): the queue waits for the next page.
 * Duplicates keep their messageId and are dropped downstream. Nothing here throws into the page.
 */
(function (w, d) {
  "use strict";
  var VERSION = "0.1.0", Q = "hw_q_", MAX_BODY = 60000, ORPHAN_MS = 300000;
  var me = d.currentScript, origin = me && me.src ? new URL(me.src).origin : location.origin;
  var cfg = null, queue = [], inflight = new Set(), timer = 0, timerAt = 0, attempt = 0;
  var retryAt = 0, warned = false, pending = [], tabKey = null;
  var here = null, ref = d.referrer, pageKey = null;  // current URL, its referrer, its route

  function uuid() {
    var c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.random() * 256;
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.from(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) +
      "-" + h.slice(20);
  }
  function store(k, v, session) {  // get (v undefined), remove (null) or set; may throw
    try {
      var s = session ? w.sessionStorage : w.localStorage;
      if (v === undefined) return s.getItem(k);
      if (v === null) s.removeItem(k); else s.setItem(k, v);
    } catch (e) { /* storage unavailable: memory only */ }
    return null;
  }
  function cookie(name, value, maxAge) {
    if (value === undefined) {
      var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
      return m ? decodeURIComponent(m[1]) : null;
    }
    d.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + maxAge + "; Path=/" +
      "; SameSite=Lax" + (cfg.cookieDomain ? "; Domain=" + cfg.cookieDomain : "") +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function ids() {
    var aid = cookie("hw_aid") || uuid(), sid = cookie("hw_sid") || uuid();
    cookie("hw_aid", aid, 63072000);
    cookie("hw_sid", sid, cfg.sessionTimeoutS);
    return {aid: aid, sid: sid};
  }
  function campaign() {
    var out = {};
    new URLSearchParams(location.search).forEach(function (v, k) {
      if (k.indexOf("utm_") === 0) out[k === "utm_campaign" ? "name" : k.slice(4)] = v;
    });
    return out;
  }

  function enqueue(type, fields, properties) {
    var id = ids(), ev = Object.assign({
      messageId: uuid(), type: type, timestamp: new Date().toISOString(),
      anonymousId: id.aid, userId: store("hw_uid"), sessionId: id.sid,
      properties: properties || {},
      context: {
        page: {url: location.href, path: location.pathname, search: location.search,
               referrer: ref, title: d.title},
        userAgent: navigator.userAgent, campaign: campaign(), channel: cfg.channel,
        sessionId: id.sid, locale: navigator.language,
        library: {name: "headwater.js", version: VERSION},
      },
    }, fields);
    JSON.stringify(ev);  // throws here (to the caller's safe()) on circular properties
    queue.push(ev);
    persist();
    if (queue.length >= cfg.batchSize) flush(); else schedule(cfg.flushIntervalMs);
  }
  function persist() {
    store(tabKey, queue.length ? JSON.stringify({t: Date.now(), q: queue}) : null);
  }
  function schedule(ms) {  // flush in `ms` (not before retryAt), unless one comes sooner
    var now = Date.now(), at = now + Math.max(ms, retryAt - now);
    if (timer && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(function () { timer = 0; api.flush(); }, at - now);
  }
  function remove(batch) {
    var gone = new Set(batch);
    queue = queue.filter(function (e) { return !gone.has(e); });
    persist();
  }
  function take(limit) {  // events not in flight, up to `limit` events and MAX_BODY bytes
    var batch = [], size = 2;
    for (var i = 0; i < queue.length && batch.length < limit; i++) {
      if (inflight.has(queue[i])) continue;
      var n = JSON.stringify(queue[i]).length + 1;
      if (batch.length && size + n > MAX_BODY) break;
      batch.push(queue[i]); size += n;
    }
    return batch;
  }
  function body(batch) {
    var now = new Date().toISOString();
    batch.forEach(function (e) { e.sentAt = now; });
    return JSON.stringify(batch);
  }
  function url() { return cfg.endpoint + "?k=" + encodeURIComponent(cfg.writeKey); }
  function backoff(retryAfter) {
    var s = Math.min(60, Math.pow(2, attempt++)) * (0.5 + Math.random() / 2);
    var ra = parseFloat(retryAfter);
    if (retryAfter && isNaN(ra)) ra = (Date.parse(retryAfter) - Date.now()) / 1000;
    retryAt = Date.now() + 1000 * Math.max(s, Math.min(ra || 0, 3600));
    schedule(0);
  }

  function flush() {
    if (!cfg || inflight.size || !queue.length) return Promise.resolve();
    if (Date.now() < retryAt) { schedule(0); return Promise.resolve(); }
    var batch = take(cfg.batchSize), data = body(batch);
    batch.forEach(function (e) { inflight.add(e); });
    return fetch(url(), {  // keepalive bodies are limited to 64 KiB in flight
      method: "POST", body: data, keepalive: new Blob([data]).size < MAX_BODY,
      credentials: "include", headers: {"content-type": "application/json"},
    }).then(function (r) {
      if (r.status >= 500 || r.status === 429) return backoff(r.headers.get("retry-after"));
      if (r.status === 413 && batch.length > 1) {  // split: half now, the rest next
        cfg.batchSize = Math.max(1, batch.length >> 1); return;
      }
      if (!r.ok && !warned) {
        warned = true;
        console.warn("headwater: collector answered " + r.status + ", events dropped");
      }
      attempt = 0; retryAt = 0;
      remove(batch);
    }, function () { backoff(null); }).then(function () {
      batch.forEach(function (e) { inflight.delete(e); });
      if (queue.length) schedule(queue.length >= cfg.batchSize ? 0 : cfg.flushIntervalMs);
    });
  }
  function beacon() {  // page going away: hand every event not in flight to the browser.
    // A beacon cannot be retried: while the collector is failing, events wait for the next page.
    if (!cfg || !navigator.sendBeacon || attempt || !navigator.onLine) return;
    for (var batch = take(1e4); batch.length; batch = take(1e4)) {
      var blob = new Blob([body(batch)], {type: "text/plain"});
      if (!navigator.sendBeacon(url(), blob)) return;  // refused: kept for the next page
      remove(batch);
    }
  }
  function adopt() {  // the queue of this tab's previous page, and queues long silent
    var previous = store("hw_tab", undefined, true), keys = [];
    tabKey = Q + uuid();
    store("hw_tab", tabKey, true);
    try { keys = Object.keys(w.localStorage); } catch (e) { /* no storage */ }
    keys.forEach(function (k) {
      if (k.indexOf(Q) !== 0) return;
      try {
        var saved = JSON.parse(store(k));
        if (k !== previous && Date.now() - saved.t < ORPHAN_MS) return;
        queue = queue.concat(saved.q);
        store(k, null);
      } catch (e) { store(k, null); }
    });
    persist();
  }

  function routeKey() {  // hash changes count as pages only for hash routers (#/..., #!...)
    return /^#[/!]/.test(location.hash) ? location.href : location.href.split("#")[0];
  }
  function page(name, properties) {
    if (here !== null && here !== location.href) ref = here;  // SPA: the previous route
    here = location.href;
    pageKey = routeKey();
    enqueue("page", name ? {name: name} : {}, Object.assign({
      url: location.href, path: location.pathname, search: location.search, title: d.title,
      referrer: ref}, properties));
  }
  function autoPage() { if (routeKey() !== pageKey) page(); }
  function onClick(ev) {
    var el = ev.target && ev.target.closest &&
      ev.target.closest("a,button,[role=button],input[type=submit],input[type=button]");
    if (!el || el.closest("[data-hw-ignore]")) return;
    var text = el.textContent || el.value || el.getAttribute("aria-label") || "";
    var href = el.getAttribute("href");
    enqueue("track", {event: "click"}, {
      tag: el.tagName.toLowerCase(), text: text.replace(/\s+/g, " ").trim().slice(0, 100),
      href: href ? new URL(href, location.href).href : null, id: el.id || null,
      classes: Array.from(el.classList),
    });
  }

  function init(options) {
    if (cfg) return;
    cfg = Object.assign({
      endpoint: origin + "/collect", batchSize: 20, flushIntervalMs: 2000, autoPage: true,
      autoClicks: true, channel: "web", sessionTimeoutS: 1800, cookieDomain: null,
    }, options);
    if (!cfg.writeKey) { cfg = null; console.warn("headwater: init needs a writeKey"); return; }
    adopt();
    if (queue.length) schedule(0);  // left by the previous page
    d.addEventListener("visibilitychange", safe(function () {
      if (d.visibilityState === "hidden") beacon();
    }));
    w.addEventListener("pagehide", safe(beacon));
    w.addEventListener("online", safe(function () { attempt = 0; retryAt = 0; flush(); }));
    if (cfg.autoClicks) d.addEventListener("click", safe(onClick), true);
    if (cfg.autoPage) {
      var push = history.pushState, later = safe(autoPage);
      history.pushState = function () {
        var r = push.apply(this, arguments);
        setTimeout(later, 0);
        return r;
      };
      w.addEventListener("popstate", function () { setTimeout(later, 0); });
      page();
    }
    pending.splice(0).forEach(function (call) { call(); });
  }

  function safe(fn) {  // never throw into the page; calls before init wait for it
    return function () {
      var args = arguments;
      if (!cfg && fn !== init) { pending.push(function () { fn.apply(null, args); }); return; }
      try { return fn.apply(null, args); } catch (e) { console.warn("headwater:", e); }
    };
  }
  var api = {
    init: safe(init),
    page: safe(page),
    track: safe(function (name, props) { enqueue("track", {event: String(name)}, props); }),
    identify: safe(function (userId, traits) {
      if (userId != null) store("hw_uid", String(userId));
      enqueue("identify", {traits: traits || {}}, {});
    }),
    reset: safe(function () {  // on logout: forget the user, start a new anonymous id
      store("hw_uid", null);
      cookie("hw_aid", uuid(), 63072000);
      cookie("hw_sid", uuid(), cfg.sessionTimeoutS);
    }),
    flush: function () {
      try { return flush(); } catch (e) { console.warn("headwater:", e); return Promise.resolve(); }
    },
    version: VERSION,
  };
  var stub = w.headwater;
  w.headwater = api;
  if (Array.isArray(stub)) {
    stub.forEach(function (c) { if (api[c[0]]) api[c[0]].apply(null, c.slice(1)); });
  }
})(window, document);
