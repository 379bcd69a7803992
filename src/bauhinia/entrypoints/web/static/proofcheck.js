/* Bauhinia proof-of-liabilities checker, run in the holder's own browser.
 *
 * The same rules as bauhinia.domain.proofs:
 *   leaf = SHA-256(holder_hash || balance)                       (sums: 16-byte big-endian)
 *   node = SHA-256(left.hash || left.sum || right.hash || right.sum), node.sum = left.sum + right.sum
 * an odd node at the end of a level is promoted unchanged; the verifier derives each sibling's side from the
 * leaf index and count. The result is compared with the root the issuer PUBLISHED for the proof's snapshot
 * (embedded in this page), never with the root written inside the proof.
 */
(function () {
  "use strict";
  var SUM_BYTES = 16, HASH_BYTES = 32, DEPTH_MAX = 64;
  var SUM_MAX = (1n << BigInt(8 * SUM_BYTES)) - 1n;

  /* --- SHA-256 in plain JavaScript (used when crypto.subtle is unavailable, e.g. plain http) --- */
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

  function sha256Pure(bytes) {
    var h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    var len = bytes.length, total = ((len + 9 + 63) >> 6) << 6;
    var m = new Uint8Array(total);
    m.set(bytes); m[len] = 0x80;
    var bits = len * 8;
    for (var b = 0; b < 8; b++) { m[total - 1 - b] = Math.floor(bits / Math.pow(2, 8 * b)) & 0xff; }
    var w = new Uint32Array(64);
    for (var off = 0; off < total; off += 64) {
      for (var t = 0; t < 16; t++) {
        w[t] = (m[off + 4 * t] << 24) | (m[off + 4 * t + 1] << 16) | (m[off + 4 * t + 2] << 8) | m[off + 4 * t + 3];
      }
      for (t = 16; t < 64; t++) {
        var x = w[t - 15], y = w[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
      }
      var a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var ch = (e & f) ^ (~e & g);
        var t1 = (hh + S1 + ch + K[t] + w[t]) >>> 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var maj = (a & bb) ^ (a & c) ^ (bb & c);
        var t2 = (S0 + maj) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = bb; bb = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += bb; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    var out = new Uint8Array(32);
    for (var i = 0; i < 8; i++) {
      out[4 * i] = h[i] >>> 24; out[4 * i + 1] = (h[i] >>> 16) & 0xff;
      out[4 * i + 2] = (h[i] >>> 8) & 0xff; out[4 * i + 3] = h[i] & 0xff;
    }
    return out;
  }

  function sha256(bytes) {
    if (window.crypto && window.crypto.subtle && window.isSecureContext) {
      return window.crypto.subtle.digest("SHA-256", bytes).then(function (buf) { return new Uint8Array(buf); });
    }
    return Promise.resolve(sha256Pure(bytes));
  }

  /* --- parsing, with the same refusals as proof_from_dict --- */
  function Invalid(msg) { this.message = msg; }

  function hex(value, what, length) {
    if (typeof value !== "string" || !/^([0-9a-fA-F]{2})*$/.test(value)) { throw new Invalid(what + " is not valid hex"); }
    var out = new Uint8Array(value.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(value.substr(2 * i, 2), 16); }
    if (length !== null && out.length !== length) { throw new Invalid(what + " must be " + length + " bytes"); }
    return out;
  }

  function uint(value, what) {
    var n;
    if (typeof value === "number" && Number.isInteger(value) && value >= 0) { n = BigInt(value); }
    else if (typeof value === "string" && /^[0-9]{1,40}$/.test(value)) { n = BigInt(value); }
    else { throw new Invalid(what + " must be an unsigned integer"); }
    if (n > SUM_MAX) { throw new Invalid(what + " out of range"); }
    return n;
  }

  function sumBytes(n) {
    var out = new Uint8Array(SUM_BYTES);
    for (var i = SUM_BYTES - 1; i >= 0; i--) { out[i] = Number(n & 0xffn); n >>= 8n; }
    return out;
  }

  function concat() {
    var total = 0, i;
    for (i = 0; i < arguments.length; i++) { total += arguments[i].length; }
    var out = new Uint8Array(total), off = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], off); off += arguments[i].length; }
    return out;
  }

  function toHex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function parse(text) {
    var d;
    try { d = JSON.parse(text); } catch (e) { throw new Invalid("not JSON: " + e.message); }
    if (!d || typeof d !== "object" || Array.isArray(d)) { throw new Invalid("proof must be an object"); }
    if (d.format !== "bauhinia-liabilities-proof") { throw new Invalid("not a bauhinia-liabilities-proof file"); }
    if (d.version !== 1) { throw new Invalid("unsupported proof version " + JSON.stringify(d.version)); }
    if (d.hash !== "sha256" || d.sum_bytes !== SUM_BYTES) { throw new Invalid("unsupported hash or sum width"); }
    var leaf = d.leaf, root = d.root;
    if (!leaf || typeof leaf !== "object") { throw new Invalid("leaf must be an object"); }
    if (!root || typeof root !== "object") { throw new Invalid("root must be an object"); }
    if (!Array.isArray(d.path) || d.path.length > DEPTH_MAX) { throw new Invalid("path must be a list of at most 64 steps"); }
    var path = d.path.map(function (st, k) {
      if (!st || typeof st !== "object") { throw new Invalid("path step " + (k + 1) + " must be an object"); }
      return { hash: hex(st.hash, "path step " + (k + 1) + " hash", HASH_BYTES), sum: uint(st.sum_base_units, "sum") };
    });
    return {
      snapshotId: String(d.snapshot_id || ""), coin: String(d.coin || ""),
      holderHash: hex(leaf.holder_hash, "leaf holder_hash", HASH_BYTES),
      balance: uint(leaf.balance_base_units, "leaf balance"), index: uint(leaf.index, "leaf index"),
      count: uint(d.leaf_count, "leaf_count"), salt: hex(leaf.salt || "", "leaf salt", null), path: path
    };
  }

  function pathLength(index, count) {
    var steps = 0, i = index, c = count;
    while (c > 1n) { if ((i ^ 1n) < c) { steps++; } i >>= 1n; c = (c + 1n) >> 1n; }
    return steps;
  }

  /* Fold the path from the leaf up; resolves to {hash, sum} or rejects with Invalid. */
  async function computeRoot(p) {
    if (!(p.index < p.count)) { throw new Invalid("leaf index outside the tree"); }
    if (p.path.length !== pathLength(p.index, p.count)) { throw new Invalid("path length does not match the leaf position"); }
    var h = await sha256(concat(p.holderHash, sumBytes(p.balance)));
    var s = p.balance, i = p.index, c = p.count, k = 0;
    while (c > 1n) {
      if ((i ^ 1n) < c) {
        var sib = p.path[k++];
        if (s + sib.sum > SUM_MAX) { throw new Invalid("sum overflow on the path"); }
        h = (i & 1n) ? await sha256(concat(sib.hash, sumBytes(sib.sum), h, sumBytes(s)))
                     : await sha256(concat(h, sumBytes(s), sib.hash, sumBytes(sib.sum)));
        s += sib.sum;
      }
      i >>= 1n; c = (c + 1n) >> 1n;
    }
    return { hash: toHex(h), sum: s };
  }

  async function verify(text, published, holderId) {
    try {
      var p = parse(text);
      var root = published[p.snapshotId];
      if (!root) { throw new Invalid("snapshot '" + p.snapshotId + "' was never published by the issuer"); }
      if (root.coin !== p.coin) { throw new Invalid("snapshot " + p.snapshotId + " is of " + root.coin + ", not " + p.coin); }
      var got = await computeRoot(p);
      if (got.hash !== root.root_hash.toLowerCase()) { throw new Invalid("path does not hash to the published root (tampered leaf or path)"); }
      if (got.sum !== BigInt(root.total)) { throw new Invalid("path sums to " + got.sum + ", not the published total " + root.total); }
      if (holderId) {
        if (!p.salt.length) { throw new Invalid("proof carries no salt; cannot check the holder id"); }
        var id = new TextEncoder().encode(holderId);
        var hh = await sha256(concat(new Uint8Array([p.salt.length]), p.salt, id));
        if (toHex(hh) !== toHex(p.holderHash)) { throw new Invalid("holder id does not match the proof's holder hash"); }
      }
      return { valid: true, balance: p.balance, total: BigInt(root.total), snapshotId: p.snapshotId, coin: p.coin,
               holderChecked: !!holderId };
    } catch (e) {
      if (e instanceof Invalid) { return { valid: false, reason: e.message }; }
      throw e;
    }
  }

  function formatUnits(n) {  /* token base units, 6 decimals */
    var s = n.toString().padStart(7, "0");
    var whole = s.slice(0, -6).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return whole + "." + s.slice(-6);
  }

  function show(el, state, text) {
    el.hidden = false; el.dataset.state = state;
    el.querySelector(".text").textContent = text;
  }

  function wire() {
    var form = document.getElementById("proof-form");
    if (!form) { return; }
    var published = JSON.parse(document.getElementById("published-roots").textContent || "{}");
    var textArea = document.getElementById("proof-text");
    var fileInput = document.getElementById("proof-file");
    var browserBox = document.getElementById("browser-verdict");
    var serverBox = document.getElementById("server-verdict");
    fileInput.addEventListener("change", async function () {
      if (fileInput.files.length) { textArea.value = await fileInput.files[0].text(); }
    });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var text = textArea.value, holderId = document.getElementById("holder-id").value.trim();
      show(browserBox, "checking", "checking…");
      var mine = await verify(text, published, holderId);
      show(browserBox, mine.valid ? "valid" : "invalid", mine.valid
        ? "valid: a balance of " + mine.coin + " " + formatUnits(mine.balance) + " is included in snapshot " +
          mine.snapshotId + " (total " + mine.coin + " " + formatUnits(mine.total) + ")" +
          (mine.holderChecked ? ", and the leaf is yours." : ".")
        : "not valid: " + mine.reason);
      show(serverBox, "checking", "checking…");
      try {
        var resp = await fetch("/transparency/verify.json?holder_id=" + encodeURIComponent(holderId),
                               { method: "POST", body: text, headers: { "Content-Type": "application/json" } });
        var r = await resp.json();
        show(serverBox, r.valid ? "valid" : "invalid", r.valid
          ? "valid: a balance of " + r.balance + " is included in snapshot " + r.snapshot_id + " (total " + r.total + ")" +
            (r.holder_checked ? ", and the leaf is yours." : ".")
          : "not valid: " + r.reason);
      } catch (e) {
        show(serverBox, "invalid", "the server could not be reached; the browser's verdict above stands on its own.");
      }
    });
  }

  window.BauhiniaProof = { verify: verify, sha256Pure: sha256Pure, parse: parse };
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", wire); } else { wire(); }
})();
