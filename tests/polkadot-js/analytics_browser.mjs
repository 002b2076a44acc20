// Web3 Analytics in a real browser: Debian's chromium, driven by puppeteer-core, visits a
// `phala devnet --analytics-demo` site as 20 visitors with separate storage. Twelve accept
// everything, four accept only traffic and pages, four decline; the test watches every
// request and fails if a declining visitor sends anything to the analytics service. The
// owner's dashboard must then show exactly the authorized counts; one visitor withdraws and
// erases on their "your data" page, and the dashboard drops them.
//
// node analytics_browser.mjs SITE_URL DASHBOARD_URL SCREENSHOT_DIR
// Prints one JSON line: what the dashboard showed before and after.
import puppeteer from "puppeteer-core";

const [siteUrl, dashboardUrl, shots] = process.argv.slice(2);
const FULL = 12, PARTIAL = 4, DECLINE = 4;
const deadline = (ms) => Date.now() + ms;

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const fail = async (message) => {
  console.error(message);
  await browser.close();
  process.exit(1);
};

// A visitor: its own browser context (storage), every request it makes recorded.
async function visitor() {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1200, height: 800 });
  const requests = [];
  page.on("request", (r) => requests.push(r.method() + " " + r.url()));
  page.on("pageerror", (e) => console.error("page error:", e.message));
  // Resolved by the tracker's event once a page view (or choice) has been handled.
  await page.evaluateOnNewDocument(() => {
    window.__phala = new Promise((resolve) =>
      window.addEventListener("phala-analytics", (e) => resolve(e.detail), { once: true }));
  });
  return { context, page, requests };
}

async function outcome(page) {
  const detail = await Promise.race([
    page.evaluate(() => window.__phala),
    new Promise((_, reject) => setTimeout(() => reject(new Error("the tracker never finished")), 30000)),
  ]);
  if (detail && detail.error) throw new Error("tracker: " + detail.error);
  return detail;
}

const visitors = [];
for (let i = 0; i < FULL + PARTIAL + DECLINE; i++) {
  const v = await visitor();
  visitors.push(v);
  await v.page.goto(siteUrl, { waitUntil: "load" });
  await v.page.waitForSelector("#phala-consent button", { timeout: 20000 });
  if (i === 0) await v.page.screenshot({ path: `${shots}/analytics-banner.png` });
  // Nothing leaves before a choice: only the page and the tracker script were fetched.
  if (v.requests.some((r) => r.includes("/analytics/") && !r.includes("/analytics/tracker.js"))) {
    await fail(`visitor ${i} sent something before choosing: ${v.requests.join(", ")}`);
  }
  if (i < FULL) {
    await v.page.click("#phala-consent button[data-act=all]");
  } else if (i < FULL + PARTIAL) {
    await v.page.click("#phala-consent input[data-purpose='2']");
    await v.page.click("#phala-consent input[data-purpose='4']");
    await v.page.click("#phala-consent button[data-act=some]");
  } else {
    await v.page.click("#phala-consent button[data-act=none]");
  }
  try { await outcome(v.page); } catch (e) { await fail(`visitor ${i}: ${e.message}`); }
  await v.page.goto(siteUrl + "pricing", { waitUntil: "load" });
  if (i < FULL + PARTIAL) {
    try { await outcome(v.page); } catch (e) { await fail(`visitor ${i} on /pricing: ${e.message}`); }
  } else {
    // No banner again, and nothing sent.
    await new Promise((r) => setTimeout(r, 300));
    if (await v.page.$("#phala-consent")) await fail(`visitor ${i} declined but sees the banner again`);
  }
}
for (const [i, v] of visitors.entries()) {
  const sent = v.requests.filter((r) => r.includes("/analytics/") && !r.includes("/analytics/tracker.js"));
  if (i >= FULL + PARTIAL && sent.length) await fail(`declining visitor ${i} sent: ${sent.join(", ")}`);
  if (i < FULL + PARTIAL && !sent.some((r) => r.startsWith("POST") && r.includes("/analytics/ingest"))) {
    await fail(`visitor ${i} accepted but sent no page view`);
  }
}

// The owner's dashboard: 16 visitors in traffic and pages, 12 in realtime.
const dash = await browser.newPage();
await dash.setViewport({ width: 1280, height: 1000 });
async function dashboardShows(visitorsTotal, realtime, ms) {
  const until = deadline(ms);
  let seen = null;
  while (Date.now() < until) {
    await dash.goto(dashboardUrl, { waitUntil: "load" });
    await dash.waitForFunction(() => document.body.dataset.loaded, { timeout: 30000 });
    seen = await dash.evaluate(() => ({
      visitors: document.getElementById("visitors-total").textContent,
      views: document.getElementById("views-total").textContent,
      realtime: document.getElementById("realtime").textContent,
      pages: Array.from(document.querySelectorAll("#pages tr")).map((r) => r.textContent),
      errors: (document.getElementById("errors") || {}).textContent || "",
    }));
    if (seen.visitors === String(visitorsTotal) && seen.realtime === String(realtime)) return seen;
    await new Promise((r) => setTimeout(r, 2000));
  }
  await fail(`the dashboard shows ${JSON.stringify(seen)}, not ${visitorsTotal} visitors and ${realtime} now`);
}
const before = await dashboardShows(FULL + PARTIAL, FULL, 120000);
await dash.screenshot({ path: `${shots}/analytics-dashboard.png`, fullPage: true });

// Visitor 0 sees their data, then withdraws and erases.
const me = visitors[0].page;
await me.goto(siteUrl + "your-data", { waitUntil: "load" });
await me.waitForSelector("#phala-your-data[data-loaded]", { timeout: 30000 });
const rows = await me.$$eval("#phala-views tr", (r) => r.map((x) => x.textContent));
if (rows.length < 3) await fail(`visitor 0's data shows ${JSON.stringify(rows)}`);
await me.screenshot({ path: `${shots}/analytics-your-data.png`, fullPage: true });
await me.click("#phala-withdraw");
await me.waitForSelector("#phala-your-data[data-withdrawn]", { timeout: 30000 });
// The key stays until the cluster says the data is erased, then goes.
await me.waitForSelector("#phala-your-data[data-erased]", { timeout: 100000 });
const result = await me.$eval("#phala-result", (e) => e.textContent);
const keyLeft = await me.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("phala-analytics:")).length);
if (keyLeft) await fail("the visitor's key is still stored after the erasure");
const after = await dashboardShows(FULL + PARTIAL - 1, FULL - 1, 120000);
console.log(JSON.stringify({ before, after, withdrawal: result }));
await browser.close();
