// Phala Web3 Analytics tracker: consent first, then page views sealed to the site cluster's
// analytics key. Served by every worker at /analytics/tracker.js. Plain JavaScript; all
// cryptography is the browser's own WebCrypto (Ed25519, X25519, HKDF-SHA-256, AES-256-GCM).
//
// <script src="https://WORKER/analytics/tracker.js" data-site="1"
//         data-key="0x…analytics key…" data-genesis="0x…" data-purposes="63" async></script>
//
// Before the visitor accepts, it stores nothing and sends nothing. A decline is remembered
// (so the banner does not come back) and nothing is ever sent.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var cfg = {
    site: Number(script.dataset.site),
    key: script.dataset.key,
    genesis: script.dataset.genesis,
    purposes: Number(script.dataset.purposes || 63),
    endpoint: script.dataset.endpoint || new URL(script.src).origin,
  };
  var PURPOSES = [
    [1, "realtime", "Who is on the site right now"],
    [2, "traffic", "Page views and visitors per hour and day"],
    [4, "pages", "Which pages are read most"],
    [8, "sources", "Which sites refer visitors"],
    [16, "devices", "Device classes and screen sizes"],
    [32, "engagement", "Bounce rate and visit duration"],
  ];
  var STORE = "phala-analytics:" + cfg.site + ":" + cfg.genesis;
  var enc = new TextEncoder();

  // ---- SCALE, as much as the service's formats need ----
  function concat(parts) {
    var n = 0, i, out, at = 0;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    out = new Uint8Array(n);
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }
  function u8(x) { return new Uint8Array([x & 255]); }
  function u32(x) { var b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, x, true); return b; }
  function u64(x) {
    var b = new Uint8Array(8), v = new DataView(b.buffer);
    v.setUint32(0, x % 4294967296, true); v.setUint32(4, Math.floor(x / 4294967296), true);
    return b;
  }
  function compact(n) {
    if (n < 64) return u8(n << 2);
    if (n < 16384) { var b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, (n << 2) | 1, true); return b; }
    return u32(n * 4 + 2);
  }
  function bytes(b) { return concat([compact(b.length), b]); }
  function hex(b) { return "0x" + Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join(""); }
  function unhex(s) {
    s = s.replace(/^0x/, "");
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
    return out;
  }
  function b64(b) { return btoa(String.fromCharCode.apply(null, b)); }
  function unb64(s) { return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }); }
  function random(n) { return crypto.getRandomValues(new Uint8Array(n)); }

  // ---- Envelopes: X25519 → HKDF-SHA-256 (salt "phala/envelope/v1", info = header) → AES-256-GCM ----
  var subtle = crypto.subtle;
  async function seal(recipient, purpose, plaintext) {
    var eph = await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    var ephPublic = new Uint8Array(await subtle.exportKey("raw", eph.publicKey));
    var header = concat([recipient, ephPublic, u8(purpose), u8(0)]);
    var aes = await envelopeKey(eph.privateKey, recipient, header);
    var iv = random(12);
    var ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: iv, additionalData: header }, aes, plaintext));
    return { bytes: concat([header, iv, bytes(ct)]), secret: eph.privateKey };
  }
  async function envelopeKey(secret, peer, header) {
    var pub = await subtle.importKey("raw", peer, { name: "X25519" }, false, []);
    var shared = await subtle.deriveBits({ name: "X25519", public: pub }, secret, 256);
    var ikm = await subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
    var key = await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: enc.encode("phala/envelope/v1"), info: header }, ikm, 256);
    return subtle.importKey("raw", key, "AES-GCM", false, ["encrypt", "decrypt"]);
  }
  // Opens a reply sealed to `secret` (the request's ephemeral key).
  async function open(secret, envelope) {
    var at = 65, header, iv, len, ct;
    if (envelope[at] === 1) at += 33; else at += 1;
    header = envelope.slice(0, at);
    iv = envelope.slice(at, at + 12); at += 12;
    len = readCompact(envelope, at); at = len.next;
    ct = envelope.slice(at, at + len.value);
    var aes = await envelopeKey(secret, envelope.slice(32, 64), header);
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: iv, additionalData: header }, aes, ct));
  }
  function readCompact(b, at) {
    var mode = b[at] & 3;
    if (mode === 0) return { value: b[at] >> 2, next: at + 1 };
    if (mode === 1) return { value: (b[at] | (b[at + 1] << 8)) >> 2, next: at + 2 };
    return { value: (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) / 4 + b[at + 3] * 4194304, next: at + 4 };
  }

  // ---- The visitor's key: Ed25519, made at the first consent, kept in local storage ----
  function saved() { try { return JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { return null; } }
  function save(v) { localStorage.setItem(STORE, JSON.stringify(v)); }
  async function visitorKey(create) {
    var s = saved();
    if (s && s.pkcs8) {
      return { pub: unb64(s.pub), key: await subtle.importKey("pkcs8", unb64(s.pkcs8), { name: "Ed25519" }, false, ["sign"]) };
    }
    if (!create) return null;
    var pair = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    var pub = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
    var pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
    save(Object.assign(saved() || {}, { pub: b64(pub), pkcs8: b64(pkcs8) }));
    return { pub: pub, key: pair.privateKey };
  }
  function visitorBytes(pub) { return concat([u8(0), pub]); }
  async function sign(vk, domain, body) {
    var msg = concat([enc.encode(domain), unhex(cfg.genesis), body]);
    return new Uint8Array(await subtle.sign({ name: "Ed25519" }, vk.key, msg));
  }

  async function info() {
    var r = await fetch(cfg.endpoint + "/analytics/info");
    if (!r.ok) throw new Error("analytics info: HTTP " + r.status);
    return r.json();
  }

  // Signs, seals and posts one statement (item: its SCALE bytes); returns the worker's JSON.
  async function send(vk, domain, item) {
    var site = u64(cfg.site), visitor = visitorBytes(vk.pub);
    var signature = await sign(vk, domain, concat([site, visitor, item]));
    var plain = concat([site, visitor, item, signature]);
    var env = await seal(unhex(cfg.key), 4, plain);
    var r = await fetch(cfg.endpoint + "/analytics/ingest", {
      method: "POST", body: env.bytes, keepalive: true, mode: "cors",
      headers: { "content-type": "text/plain" },
    });
    if (!r.ok) throw new Error("analytics ingest: " + (await r.text()).trim());
    return r.json();
  }

  async function consent(purposes) {
    var state = saved() || {};
    if (!purposes) {
      // A decline: forget any key, remember only the choice.
      if (state.pkcs8) await erase();
      localStorage.setItem(STORE, JSON.stringify({ declined: true }));
      hideBanner();
      return { declined: true };
    }
    var vk = await visitorKey(true);
    var now = Date.now(), i = await info();
    var item = concat([u8(0), u32(purposes), u64(now + 365 * 86400000), u64(now), u32(i.head)]);
    var reply = await send(vk, "phala/analytics/consent:", item);
    save(Object.assign(saved(), { purposes: purposes, block: i.head, declined: false }));
    hideBanner();
    await pageview();
    return reply;
  }

  function device() {
    var w = screen.width, coarse = matchMedia && matchMedia("(pointer: coarse)").matches;
    if (coarse && w < 768) return 1;
    if (coarse && w < 1280) return 2;
    return 3;
  }
  function screenBucket() {
    var w = screen.width;
    return w < 576 ? 0 : w < 768 ? 1 : w < 992 ? 2 : w < 1200 ? 3 : 4;
  }

  async function pageview() {
    var s = saved();
    if (!s || !s.purposes) return null;
    var vk = await visitorKey(false);
    if (!vk) return null;
    var ref = "";
    try { if (document.referrer) { var h = new URL(document.referrer).host; if (h !== location.host) ref = h; } } catch (e) { ref = ""; }
    // Only what the consent covers leaves the browser.
    var p = s.purposes;
    var path = enc.encode(p & (4 | 32) ? location.pathname.slice(0, 256) : "/");
    if (!(p & 8)) ref = "";
    var dev = p & 16 ? device() : 0, scr = p & 16 ? screenBucket() : 0;
    var item = concat([u8(1), random(16), u64(Date.now()), bytes(path), bytes(enc.encode(ref.slice(0, 253))), u8(dev), u8(scr)]);
    return send(vk, "phala/analytics/event:", item);
  }

  // Erases everything held (through the pipeline) and forgets the key.
  async function erase() {
    var vk = await visitorKey(false);
    if (!vk) return null;
    var i = await info();
    var reply = await send(vk, "phala/analytics/consent:", concat([u8(2), u32(i.head)]));
    // The key goes only once the erasure is safe on its way; otherwise it can be sent again.
    if (reply.durable) localStorage.removeItem(STORE);
    return reply;
  }

  // What the cluster holds about this visitor, read through a sealed, signed request.
  async function yourData() {
    var vk = await visitorKey(false);
    if (!vk) return { consent: null, views: [], erased: false, none: true };
    var nonce = random(32), at = Date.now();
    var body = concat([u64(cfg.site), visitorBytes(vk.pub), nonce, u64(at)]);
    var signature = await sign(vk, "phala/analytics/access:", body);
    var env = await seal(unhex(cfg.key), 0, concat([body, signature]));
    var r = await fetch(cfg.endpoint + "/analytics/access", { method: "POST", body: env.bytes, headers: { "content-type": "text/plain" } });
    if (!r.ok) throw new Error((await r.text()).trim());
    var plain = await open(env.secret, new Uint8Array(await r.arrayBuffer()));
    return decodeReply(plain, nonce);
  }

  function decodeReply(b, nonce) {
    var at = 0, i;
    for (i = 0; i < 32; i++) if (b[i] !== nonce[i]) throw new Error("the answer is for another request");
    at = 32;
    var dv = new DataView(b.buffer, b.byteOffset);
    var height = dv.getUint32(at, true); at += 4 + 32;
    var len = readCompact(b, at); at = len.next;
    var p = b.slice(at, at + len.value);
    if (p[0] !== 0) {
      var l = readCompact(p, 1);
      throw new Error(new TextDecoder().decode(p.slice(l.next, l.next + l.value)));
    }
    var inner = readCompact(p, 1), d = p.slice(inner.next, inner.next + inner.value), o = 0;
    var v = new DataView(d.buffer, d.byteOffset);
    function r64() { var x = v.getUint32(o, true) + v.getUint32(o + 4, true) * 4294967296; o += 8; return x; }
    function rbytes() { var c = readCompact(d, o); o = c.next; var s = new TextDecoder().decode(d.slice(o, o + c.value)); o += c.value; return s; }
    var out = { height: height, consent: null, views: [], erased: false };
    if (d[o++] === 1) {
      var purposes = v.getUint32(o, true); o += 4;
      var expires = r64(), signed = r64(), block = v.getUint32(o, true); o += 4;
      o += 64;
      out.consent = { purposes: purposes, expiresMs: expires, signedMs: signed, block: block };
    }
    var n = readCompact(d, o); o = n.next;
    for (i = 0; i < n.value; i++) {
      var atMs = r64(), path = rbytes(), referrer = rbytes(), dev = d[o++], scr = d[o++];
      out.views.push({ atMs: atMs, path: path, referrer: referrer, device: ["(not set)", "Mobile", "Tablet", "Desktop"][dev], screen: scr });
    }
    out.erased = d[o++] === 1;
    out.receipt = d[o] === 1 ? hex(d.slice(o + 1, o + 65)) : null;
    return out;
  }

  // A withdrawal the chain carries: signed by the visitor key, with the cluster's receipt,
  // relayed to the chain by the worker as a fee-free transaction.
  async function withdraw() {
    var vk = await visitorKey(false);
    if (!vk) return null;
    // The cluster's receipt for the consent makes it free; it comes with the visitor's data.
    var held = await yourData();
    var i = await info();
    var signedAt = i.head;
    var site = u64(cfg.site), visitor = visitorBytes(vk.pub);
    var signature = await sign(vk, "phala/analytics/withdraw:", concat([site, visitor, u32(signedAt)]));
    var receipt = held.receipt ? concat([u8(1), unhex(held.receipt)]) : u8(0);
    var r = await fetch(cfg.endpoint + "/analytics/withdraw", {
      method: "POST", body: concat([site, visitor, u32(signedAt), signature, receipt]),
      headers: { "content-type": "text/plain" },
    });
    if (!r.ok) throw new Error((await r.text()).trim());
    // The key stays until the cluster says the data is erased (see waitErased): a
    // withdrawal that never reaches the chain can then be sent again.
    return r.json();
  }

  // Asks until the cluster reports the visitor's data erased, then forgets the key.
  async function waitErased(ms) {
    var until = Date.now() + (ms || 60000);
    while (Date.now() < until) {
      var d = await yourData();
      if (d.erased || (!d.consent && !d.views.length)) { localStorage.removeItem(STORE); return true; }
      await new Promise(function (r) { setTimeout(r, 2000); });
    }
    return false;
  }

  // ---- The banner ----
  var banner;
  function hideBanner() { if (banner) { banner.remove(); banner = null; } }
  function showBanner() {
    if (banner) return;
    var current = (saved() || {}).purposes || 0;
    banner = document.createElement("div");
    banner.id = "phala-consent";
    banner.setAttribute("role", "dialog");
    banner.setAttribute("aria-label", "Analytics consent");
    banner.style.cssText = "position:fixed;left:16px;right:16px;bottom:16px;max-width:560px;margin:auto;z-index:2147483647;" +
      "background:#fff;color:#1b1b1f;border:1px solid #d0d0d8;border-radius:10px;box-shadow:0 6px 24px rgba(0,0,0,.15);" +
      "font:14px/1.45 system-ui,sans-serif;padding:16px";
    var offered = PURPOSES.filter(function (p) { return cfg.purposes & p[0]; });
    banner.innerHTML = "<strong>May this site count your visit?</strong>" +
      "<p style='margin:6px 0 10px'>Your visit is encrypted in your browser and counted only inside " +
      "confidential workers; the site sees totals, never you. Choose what you allow; you can " +
      "change your mind or erase it at any time.</p>" +
      offered.map(function (p) {
        return "<label style='display:block;margin:2px 0'><input type='checkbox' data-purpose='" + p[0] + "'" + (current & p[0] ? " checked" : "") + "> " + p[2] + "</label>";
      }).join("") +
      "<div style='margin-top:12px;display:flex;gap:8px;flex-wrap:wrap'>" +
      "<button data-act='all' style='padding:6px 12px'>Accept all</button>" +
      "<button data-act='some' style='padding:6px 12px'>Accept selected</button>" +
      "<button data-act='none' style='padding:6px 12px'>" + (current ? "Decline and erase what is held" : "Decline") + "</button></div>";
    // "Accept selected" with nothing ticked would be a decline in disguise.
    var some = banner.querySelector("button[data-act=some]");
    function sync() { some.disabled = !banner.querySelector("input:checked"); }
    banner.addEventListener("change", sync);
    sync();
    banner.addEventListener("click", function (e) {
      var act = e.target && e.target.dataset && e.target.dataset.act;
      if (!act) return;
      var purposes = 0;
      if (act === "all") offered.forEach(function (p) { purposes |= p[0]; });
      if (act === "some") banner.querySelectorAll("input:checked").forEach(function (c) { purposes |= Number(c.dataset.purpose); });
      consent(purposes).then(done, failed);
    });
    document.body.appendChild(banner);
  }
  function done(r) {
    window.dispatchEvent(new CustomEvent("phala-analytics", { detail: r }));
    if (document.getElementById("phala-your-data")) setTimeout(renderYourData, 3000);
  }
  function failed(e) { console.warn("phala analytics:", e.message); window.dispatchEvent(new CustomEvent("phala-analytics", { detail: { error: e.message } })); }

  // ---- The "your data" panel, on a page with <div id="phala-your-data"></div> ----
  function names(bits) {
    var n = PURPOSES.filter(function (p) { return bits & p[0]; }).map(function (p) { return p[1]; });
    return n.length ? n.join(", ") : "nothing";
  }
  async function renderYourData() {
    var box = document.getElementById("phala-your-data");
    if (!box) return;
    box.innerHTML = "<p>Reading what this site's analytics hold about you…</p>";
    var s = saved(), data;
    try { data = await yourData(); } catch (e) { box.innerHTML = "<p class='phala-error'>" + esc(e.message) + "</p>"; return; }
    var html = "";
    if (data.none) {
      html += "<p id='phala-status'>" + (s && s.declined ? "You declined: nothing about you is sent or held." : "You have not consented: nothing about you is sent or held.") + "</p>";
    } else if (data.erased || (!data.consent && !data.views.length)) {
      html += "<p id='phala-status'>Nothing is held about you: your data was erased.</p>";
    } else {
      html += "<p id='phala-status'>You allow: <b>" + esc(data.consent ? names(data.consent.purposes) : "nothing") + "</b>" +
        (data.consent ? " (given " + new Date(data.consent.signedMs).toISOString().slice(0, 16).replace("T", " ") + " UTC, until " + new Date(data.consent.expiresMs).toISOString().slice(0, 10) + ")" : "") +
        ". Computed at block #" + data.height + ".</p>";
      html += "<table id='phala-views'><tr><th>When (UTC)</th><th>Page</th><th>From</th><th>Device</th></tr>" +
        data.views.map(function (v) {
          return "<tr><td>" + new Date(v.atMs).toISOString().slice(0, 19).replace("T", " ") + "</td><td>" + esc(v.path) + "</td><td>" + esc(v.referrer || "direct") + "</td><td>" + esc(v.device) + "</td></tr>";
        }).join("") + "</table>";
    }
    html += "<p style='display:flex;gap:8px;flex-wrap:wrap'><button id='phala-change'>Change what I allow</button>";
    if (!data.none) html += "<button id='phala-withdraw'>Withdraw consent and erase my data</button>";
    html += "</p><p id='phala-result'></p>";
    box.innerHTML = html;
    document.getElementById("phala-change").onclick = showBanner;
    var w = document.getElementById("phala-withdraw");
    if (w) w.onclick = function () {
      w.disabled = true;
      var result = document.getElementById("phala-result");
      withdraw().then(function (r) {
        result.textContent = "Withdrawal sent to the chain (transaction " + r.transaction.slice(0, 18) + "…); waiting for the cluster to erase your data…";
        box.dataset.withdrawn = "true";
        return waitErased(90000).then(function (ok) {
          if (ok) {
            box.dataset.erased = "true";
            return renderYourData().then(function () {
              var after = document.getElementById("phala-result");
              if (after) after.textContent = "Withdrawn: the cluster erased your data, and this browser forgot its key.";
              box.dataset.withdrawn = "true";
              box.dataset.erased = "true";
            });
          }
          result.textContent = "The withdrawal is not applied yet; try again in a minute (your key is kept until it is).";
          w.disabled = false;
        });
      }, function (e) { w.disabled = false; result.textContent = e.message; });
    };
    box.dataset.loaded = "true";
  }
  function esc(x) { return String(x).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }

  window.phalaAnalytics = {
    consent: consent, pageview: pageview, erase: erase, withdraw: withdraw, yourData: yourData, waitErased: waitErased,
    showBanner: showBanner, state: saved, purposes: PURPOSES, renderYourData: renderYourData,
  };
  function start() {
    var s = saved();
    if (!s) showBanner();
    else if (s.purposes) pageview().then(done, failed);
    renderYourData();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
