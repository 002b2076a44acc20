// The explorer in a real browser: Debian's chromium, driven by puppeteer-core. Every page
// must show the values the test read from the chain over RPC (passed in as JSON), search
// must land on each kind of id, a transfer made while a page is open must appear without a
// reload, and the console must stay free of errors. With `outage`, the node is taken away
// and brought back (by the test, coordinated through files): the page says so, then
// recovers by itself.
//
// node explorer_browser.mjs pages EXPLORER_URL EXPECT_JSON SCREENSHOT_DIR PHALA NODE_URL
// node explorer_browser.mjs outage EXPLORER_URL SIGNAL_DIR
// node explorer_browser.mjs bridge EXPLORER_URL WANTS_JSON SCREENSHOT_PATH
// Prints one JSON line: per page, the time to first render and the requests it made.
import puppeteer from "puppeteer-core";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";

const [mode, base, ...rest] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const problems = [];
const fail = async (message) => {
  console.error(message);
  if (problems.length) console.error("console errors:\n" + problems.join("\n"));
  await browser.close();
  process.exit(1);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function newPage(width = 1200) {
  const page = await browser.newPage();
  await page.setViewport({ width, height: 900 });
  page.on("console", (m) => { if (m.type() === "error") problems.push(`${page.url()}: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`${page.url()}: ${e.message}`));
  page.requests = 0;
  page.on("request", () => { page.requests += 1; });
  return page;
}

// Waits (bounded) until the page rendered data for `name` (or a problem page).
async function rendered(page, name, since = 0) {
  await page.waitForFunction(
    (name, since) => {
      const app = document.getElementById("app");
      return app.dataset.page === name && Number(app.dataset.ready || 0) > since && !app.hasAttribute("aria-busy");
    },
    { timeout: 30000 }, name, since);
}

const text = (page) => page.$eval("#app", (el) => el.innerText);

async function until(what, ms, check) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) await fail(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

if (mode === "outage") {
  const [signals] = rest;
  const page = await newPage();
  await page.goto(`${base}/#/`, { waitUntil: "load" });
  await rendered(page, "home");
  writeFileSync(`${signals}/loaded`, "");
  // The test stops the node now: the page must say so.
  await until("the page to say the node is unreachable", 60000, async () =>
    (await page.$eval("#node", (el) => el.innerText)).includes("unreachable"));
  await page.screenshot({ path: `${signals}/explorer-node-down.png` });
  writeFileSync(`${signals}/saw-down`, "");
  // And back: live again, with data, without a reload.
  await until("the page to recover", 120000, async () => {
    const node = await page.$eval("#node", (el) => el.innerText);
    const body = await text(page);
    return node.startsWith("live") && body.includes("Finalized block") ? true : false;
  });
  await until("a new block after the recovery", 60000, async () =>
    (await page.$eval("#node", (el) => el.innerText)).match(/finalized #\d+/));
  const errors = problems.filter((p) => !p.includes("/api/") && !p.includes("net::ERR"));
  if (errors.length) await fail("console errors:\n" + errors.join("\n"));
  console.log(JSON.stringify({ outage: "recovered" }));
  await browser.close();
  process.exit(0);
}

if (mode === "bridge") {
  // The bridge page of a chain with a channel, a packet in flight and acknowledgements.
  const [wantsJson, shot] = rest;
  const wants = JSON.parse(wantsJson);
  const page = await newPage();
  const start = Date.now();
  await page.goto(`${base}/#/bridge`, { waitUntil: "load" });
  await rendered(page, "bridge");
  const firstRenderMs = Date.now() - start;
  const body = await text(page);
  for (const want of wants) {
    if (!body.includes(want)) await fail(`the bridge page does not show ${JSON.stringify(want)}:\n${body.slice(0, 3000)}`);
  }
  await page.screenshot({ path: shot, fullPage: true });
  if (problems.length) await fail("console errors:\n" + problems.join("\n"));
  console.log(JSON.stringify({ bridge: { firstRenderMs, requests: page.requests } }));
  await browser.close();
  process.exit(0);
}

const [expectJson, shots, phala, nodeUrl] = rest;
const expect = JSON.parse(expectJson);
const timings = {};

// Each page: what it must show.
const checks = {
  home: [expect.chain, "Finalized block", "Block time", "Finality latency", "Epoch", expect.issuance, "Workers computing", "Stake in pools", "Latest blocks"],
  validators: [expect.validator, "Candidates", "Committees", expect.minBond],
  gatekeepers: [expect.gatekeeperShort, expect.masterKey, "Master key history"],
  workers: [expect.workerShort, "SIMULATED", "Idle"],
  pools: ["Stake pools", expect.poolOwner, "Share price over time", "Stake over time"],
  contracts: [expect.contract, expect.deployer, "Clusters"],
  governance: [`#${expect.referendum}`, expect.track, "Approval", "needs"],
  treasury: [expect.treasuryAccount, "Spendable", "Spends"],
};
for (const [name, wants] of Object.entries(checks)) {
  const page = await newPage();
  const start = Date.now();
  await page.goto(`${base}/#/${name === "home" ? "" : name}`, { waitUntil: "load" });
  await rendered(page, name);
  timings[name] = { firstRenderMs: Date.now() - start, requests: page.requests };
  const body = await text(page);
  for (const want of wants) {
    if (!body.includes(want)) await fail(`the ${name} page does not show ${JSON.stringify(want)}:\n${body.slice(0, 3000)}`);
  }
  await page.screenshot({ path: `${shots}/explorer-${name}.png`, fullPage: name !== "workers" });
  await page.close();
}

// A block, its certificate, and an account.
{
  const page = await newPage();
  const start = Date.now();
  await page.goto(`${base}/#/block/${expect.block}`, { waitUntil: "load" });
  await rendered(page, "block");
  timings.block = { firstRenderMs: Date.now() - start, requests: page.requests };
  const body = await text(page);
  for (const want of [`Block #${expect.block}`, expect.blockHash, "signatures check", "Timestamp.set"]) {
    if (!body.includes(want)) await fail(`the block page does not show ${JSON.stringify(want)}:\n${body}`);
  }
  await page.screenshot({ path: `${shots}/explorer-block.png`, fullPage: true });
  await page.close();
}

// Live: the account page of the transfer's recipient is open when the transfer is made.
{
  const page = await newPage();
  const start = Date.now();
  await page.goto(`${base}/#/account/${expect.recipient}`, { waitUntil: "load" });
  await rendered(page, "account");
  timings.account = { firstRenderMs: Date.now() - start, requests: page.requests };
  const before = await text(page);
  for (const want of [expect.recipient, expect.recipientFree, "Transfers"]) {
    if (!before.includes(want)) await fail(`the account page does not show ${JSON.stringify(want)}:\n${before}`);
  }
  await page.evaluate(() => { window.__notReloaded = true; });
  const sentAt = Date.now();
  const out = execFileSync(phala, ["transfer", "--suri", "//Ferdie", expect.recipient, "1.25", "--url", nodeUrl], { encoding: "utf8" });
  const n = (out.match(/Finalized in block #(\d+)/) || [])[1];
  const i = (out.match(/extrinsic index (\d+)/) || [])[1];
  if (!n || !i) await fail(`phala transfer said:\n${out}`);
  await until("the transfer on the open account page", 30000, async () => (await text(page)).includes("1.25 PHA"));
  timings.liveUpdateMs = Date.now() - sentAt;
  if (!(await page.evaluate(() => window.__notReloaded === true))) await fail("the page reloaded");
  await page.screenshot({ path: `${shots}/explorer-account.png`, fullPage: true });
  // Search: each kind of id lands on its page.
  const xt = JSON.parse(execFileSync(phala, ["block", n, "--json", "--url", nodeUrl], { encoding: "utf8" })).extrinsics[Number(i)];
  const searches = [
    [expect.block, "block", `Block #${expect.block}`],
    [expect.blockHash, "block", `Block #${expect.block}`],
    [xt.hash, "block", "Balances.transfer"],
    [expect.recipient, "account", expect.recipient],
    [expect.recipientHex, "account", expect.recipient],
    [expect.worker, "workers", expect.workerShort],
    [expect.contract, "contracts", expect.contract],
  ];
  for (const [q, name, want] of searches) {
    const since = await page.$eval("#app", (el) => Number(el.dataset.ready || 0));
    await page.$eval("#q", (el, q) => { el.value = q; }, q);
    await page.click("#search button");
    await rendered(page, name, since);
    const body = await text(page);
    if (!body.includes(want)) await fail(`searching ${q} shows no ${JSON.stringify(want)}:\n${body.slice(0, 2000)}`);
  }
  // Not found is said plainly: a block past the head, and a name nothing has.
  for (const q of ["99999999", "no-such-thing"]) {
    await page.$eval("#q", (el, q) => { el.value = q; }, q);
    await page.click("#search button");
    await until(`a not-found answer for ${q}`, 10000, async () => (await text(page)).includes("Not found"));
  }
  await page.close();
}

// Home, live: the finalized height moves without a reload; a phone-width screen works.
{
  const page = await newPage(390);
  await page.goto(`${base}/#/`, { waitUntil: "load" });
  await rendered(page, "home");
  const first = await page.$eval("#finalized", (el) => el.innerText);
  await until("a new finalized block on the open home page", 20000, async () =>
    (await page.$eval("#finalized", (el) => el.innerText)) !== first);
  await page.screenshot({ path: `${shots}/explorer-phone.png` });
  await page.close();
}

if (problems.length) await fail("console errors:\n" + problems.join("\n"));
console.log(JSON.stringify({ timings }));
await browser.close();
