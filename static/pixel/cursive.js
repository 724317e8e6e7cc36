// Cursive's website pixel, served at /p/cursive.js (see docs/pixel.md). Pasted as
//   <script async src="https://<cursive>/p/cursive.js" data-site="<site key>"></script>
// with optional data-cookieless (no stored visitor id) and data-respect-dnt (nothing at all when the
// browser sends Do-Not-Track or Global Privacy Control). It must never break or slow the host page: every
// entry point is wrapped in try/catch, nothing is synchronous on the network, and failures are silent.
(() => {
  const w = window, d = document, n = navigator;
  // Each callback the host page can reach swallows its own errors: a bug here must stay invisible there.
  const guard = (fn) => function (...args) { try { return fn.apply(this, args); } catch (e) { /* silent by design */ } };
  guard(() => {
    const me = d.currentScript || [...d.scripts].find((s) => /\/p\/cursive\.js$/.test(s.src));
    const site = me && me.dataset.site;
    if (!site || (w.cursive && w.cursive.ready)) return;
    if (me.hasAttribute("data-respect-dnt") && (n.doNotTrack == "1" || n.globalPrivacyControl === true)) {
      w.cursive = () => {};
      return;
    }
    const endpoint = new URL(me.src).origin + "/p/collect";
    const id = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => (b + 256).toString(16).slice(1)).join("");
    let visitor;
    if (!me.hasAttribute("data-cookieless")) {
      // Storage can be blocked (sandboxed frames, strict privacy settings): then the id lives for this page.
      try {
        visitor = localStorage.getItem("cursive_vid");
        if (!visitor) localStorage.setItem("cursive_vid", (visitor = id()));
      } catch (e) { /* fall back to an id in memory */ }
    }
    visitor = visitor || id();

    // Events of one task go out together (at most 50 a request, the endpoint's limit), in a microtask: that
    // still runs inside a pagehide handler, where a timer would never fire. Each event is serialized alone, so
    // one the browser cannot encode (a cycle in traits) is dropped without taking the others with it.
    let queue = [];
    const post = (body) => {
      const beacon = () => n.sendBeacon && n.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }));
      // text/plain keeps the request "simple": the browser sends no CORS preflight before it.
      if (w.fetch) fetch(endpoint, { method: "POST", keepalive: true, body, headers: { "Content-Type": "text/plain" } }).catch(guard(beacon));
      else beacon();
    };
    const flush = guard(() => {
      const events = queue;
      queue = [];
      for (let i = 0; i < events.length; i += 50) post(`[${events.slice(i, i + 50)}]`);
    });
    const send = (event) => {
      try {
        if (queue.push(JSON.stringify({ site, visitor, url: location.href, ...event })) === 1) Promise.resolve().then(flush);
      } catch (e) { /* not JSON: dropped */ }
    };

    // Engaged time: time the page was visible, sent as a delta when it hides and before each SPA pageview.
    let page, seen, since = 0, engaged = 0;
    const visible = () => d.visibilityState === "visible";
    const tick = () => {
      if (since) engaged += Date.now() - since;
      since = visible() ? Date.now() : 0;
    };
    const engagement = () => {
      tick();
      if (engaged > 0) send({ type: "engagement", url: page, engaged_ms: engaged });
      engaged = 0;
    };
    // A fragment (#section) is a place on the same page, not a page of its own.
    const key = () => location.href.split("#")[0];
    const pageview = () => {
      if (key() === seen) return;
      if (page) engagement();
      const click = new URLSearchParams(location.search).get("cursive_cid");
      send({ type: "pageview", referrer: page || d.referrer, title: d.title, traits: click ? { click_id: click } : undefined });
      page = location.href;
      seen = key();
      engaged = 0;
      since = visible() ? Date.now() : 0;
    };

    const text = (value) => value.trim().slice(0, 200);
    const field = (form, test) => {
      for (const el of form.elements) {
        if (el.tagName !== "INPUT" || /^(password|hidden|checkbox|radio|file|submit|button)$/.test(el.type)) continue;
        if (test(el, `${el.name} ${el.id} ${el.autocomplete}`.toLowerCase()) && el.value.trim()) return text(el.value);
      }
    };
    const submitted = guard((e) => {
      const form = e.target;
      if (!(form instanceof HTMLFormElement) || form.closest("[data-cursive-ignore]")) return;
      const email = field(form, (el, names) => (el.type === "email" || names.includes("email")) && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(el.value.trim()));
      if (!email) return;
      const traits = { email };
      const named = { first_name: /first.?name|fname|given/, last_name: /last.?name|lname|surname|family/, company_name: /company(.?name)?(?![\w-])|organi[sz]ation/ };
      for (const [trait, pattern] of Object.entries(named)) {
        const value = field(form, (el, names) => el.type !== "email" && !names.includes("email") && pattern.test(names));
        if (value) traits[trait] = value;
      }
      send({ type: "form", traits });
    });

    const commands = {
      identify: (traits) => traits && typeof traits === "object" && send({ type: "identify", traits }),
      track: (name, props) => name && send({ type: "track", name: String(name), props: props && typeof props === "object" ? props : undefined }),
    };
    const cursive = guard((command, ...args) => commands[command] && commands[command](...args));
    cursive.ready = true;
    const early = (w.cursive && w.cursive.q) || [];
    w.cursive = cursive;

    const navigated = guard(pageview);
    for (const method of ["pushState", "replaceState"]) {
      const original = history[method];
      history[method] = function (...args) {
        const result = original.apply(this, args);
        navigated();
        return result;
      };
    }
    w.addEventListener("popstate", navigated);
    d.addEventListener("visibilitychange", guard(() => (visible() ? tick() : engagement())));
    w.addEventListener("pagehide", guard(engagement));
    d.addEventListener("submit", submitted, true);

    pageview();
    for (const args of early) cursive(...args);
  })();
})();
