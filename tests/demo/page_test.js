// page_test.js - drives pgseal-demo's page in Debian's headless Chromium with puppeteer-core (run by tests/integration/test_demo.py).
//
//   node page_test.js check URL SCREENSHOT NAME EMAIL SSN NOTE   add a person, search, attestation
//   node page_test.js tti URL RUNS                                time to interactive (ms), RUNS loads
//
// Prints one JSON line: {"ok": true, ...} or {"ok": false, "error": "..."}; exit 1 on failure.
'use strict';
const puppeteer = require('puppeteer-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 30000;

async function launch() {
  const args = ['--headless=new', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--disable-background-networking', '--disable-extensions'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox'); // Chromium refuses root otherwise
  return puppeteer.launch({ executablePath: CHROMIUM, args, headless: true, defaultViewport: { width: 1400, height: 1000 } });
}

// Every request must go to the page's own origin: the page works offline inside a CVM.
async function newPage(browser, url) {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const origin = new URL(url).origin;
  const foreign = [];
  const errors = [];
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    if (r.url().startsWith('data:') || new URL(r.url()).origin === origin) r.continue();
    else { foreign.push(r.url()); r.abort(); }
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return { page, foreign, errors };
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);

async function check(url, shot, name, email, ssn, note) {
  const browser = await launch();
  try {
    const { page, foreign, errors } = await newPage(browser, url);
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('body[data-ready="1"]');
    // the contract's elements
    for (const sel of ['#app-view', '#db-view', '#attestation', '#dump-view', 'form#add-person', 'form#search',
      '#add-person input[name=name]', '#add-person input[name=email]', '#add-person input[name=ssn]',
      '#add-person input[name=note]', '#search input[name=email]']) {
      if (!(await page.$(sel))) throw new Error('missing element ' + sel);
    }
    await page.type('#add-person input[name=name]', name);
    await page.type('#add-person input[name=email]', email);
    await page.type('#add-person input[name=ssn]', ssn);
    await page.type('#add-person input[name=note]', note);
    await page.click('#add-person button[type=submit]');
    await page.waitForFunction((e) => document.getElementById('app-view').textContent.includes(e), {}, email);
    const app = await text(page, '#app-view');
    const db = await text(page, '#db-view');
    const dump = await text(page, '#dump-view');
    const markupInApp = await page.$$eval('#app-view b, #app-view img, #app-view script', (n) => n.length);
    const status = await text(page, '#add-status');
    // search by email
    await page.type('#search input[name=email]', email);
    await page.click('#search button[type=submit]');
    await page.waitForSelector('#search-result:not([hidden])');
    await page.waitForFunction(() => document.getElementById('search-received').textContent.length > 0);
    const found = await text(page, '#search-rows');
    const sent = await text(page, '#search-sent');
    const received = await text(page, '#search-received');
    // attestation
    const att = await text(page, '#attestation');
    const verdict = await text(page, '#verdict');
    const simulatedVisible = await page.$eval('#attestation .simulated', (e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && parseFloat(getComputedStyle(e).fontSize) >= 28;
    }).catch(() => false);
    await page.screenshot({ path: shot, fullPage: true });
    return { ok: true, app, db, dump, status, markupInApp, found, sent, received, att, verdict, simulatedVisible, foreign, errors };
  } finally {
    await browser.close();
  }
}

async function tti(url, runs) {
  const browser = await launch();
  try {
    const times = [];
    let rows = 0;
    for (let i = 0; i < runs; i++) {
      const { page, foreign } = await newPage(browser, url);
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForSelector('body[data-ready="1"]');
      const t = await page.evaluate(() => performance.getEntriesByName('pgseal-demo-ready')[0].startTime);
      rows = await page.$$eval('#app-view tbody tr', (n) => n.length);
      if (foreign.length) throw new Error('foreign requests: ' + foreign.join(' '));
      times.push(Math.round(t));
      await page.close();
    }
    times.sort((a, b) => a - b);
    return { ok: true, rows, runs: times, median_ms: times[Math.floor(times.length / 2)] };
  } finally {
    await browser.close();
  }
}

(async () => {
  const [mode, ...a] = process.argv.slice(2);
  try {
    const r = mode === 'check' ? await check(...a) : mode === 'tti' ? await tti(a[0], Number(a[1] || 5))
      : (() => { throw new Error('usage: page_test.js check|tti ...'); })();
    console.log(JSON.stringify(r));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e && e.stack || e) }));
    process.exitCode = 1;
  }
})();
