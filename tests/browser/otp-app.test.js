// The OTP-app second factor (SPEC §4.2) as a member sees it, through the demo portal: the first
// login chooses 「ワンタイムパスワード (OTP) アプリ認証」, the set-up page shows a QR code (read
// back from a screenshot, as a browser-extension authenticator would) and, after
// 「スキャンできませんか？」, the key and settings; the "app" is otplib, an implementation of
// RFC 6238 independent of Monban's. Then logins with its codes: a replayed code and a code
// three steps old are refused, one step old is accepted; a second device, added at the
// society's request (`monban user require-action`), is chosen by name. Every page is checked
// at phone width and photographed at phone and PC width (artifacts/screenshots/otp-app-*.png).
//
// Codes follow the real clock (the server runs on it): the test waits for the next 30-second
// step where a check needs one, at most about 30 seconds in all.
//
//   cargo build -p monban-server -p monban-portal-demo -p monban-smtp-sink && cd tests/browser && npm install && npm test

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { generate } from 'otplib';
import { MEMBERS, newContext, screenshot, startStack } from './harness.js';
import { arriveAtPortal, submitAndWait } from './set-up.js';

const [TARO] = MEMBERS;
const PHONE = { width: 390, height: 844 };
const PC = { width: 1280, height: 800 };
const REALM_TITLE = 'デモ健保加入者ページ';

// The demo realm with the OTP app as its only second factor, chosen at the first login.
const REALM_EXTRA = `
[flows]
browser = ["password", "otp-app"]
first_login = ["user-id-and-method", "configure-otp"]

[second_factors]
offered = ["otp-app"]
`;

// The texts a member reads (themes/default/messages/messages_ja.toml, SPEC §4.2 and the manual).
const T = {
  methodOtpApp: 'ワンタイムパスワード (OTP) アプリ認証',
  setupTitle: 'ワンタイムパスワードの設定',
  setupWarning: '⚠ アカウントを有効にするにはワンタイムパスワードのセットアップが必要です。',
  scanSteps: [
    '次のいずれかのアプリケーションをモバイルにインストールします。',
    'アプリケーションを開き、バーコードをスキャンします。',
    'アプリケーションから提供されたワンタイムパスワードを入力し、送信をクリックしてセットアップを終了します。',
  ],
  apps: ['Google Authenticator', 'Microsoft Authenticator', 'FreeOTP'],
  cannotScan: 'スキャンできませんか？',
  enterKey: 'アプリケーションを開き、キーを入力します：',
  scanInstead: 'バーコードをスキャンしますか？',
  settings: ['タイプ: 時間ベース', 'アルゴリズム: SHA1', '桁: 6', '間隔: 30'],
  otpLabel: 'ワンタイムパスワード',
  deviceNameLabel: 'デバイス名 *',
  deviceNameHint: 'OTPデバイスの管理に役立つデバイス名を指定します。',
  signOutAll: '全てのデバイスからサインアウトする',
  submit: '実行',
  setupWrong: '認証コードが異なります',
  nameTaken: 'このデバイス名は既に使用されています。別のデバイス名を入力してください。',
  loginTitle: 'ワンタイムパスワードの入力',
  toTop: 'トップページへ',
  loginWrong: 'ワンタイムパスワードが正しくありません',
};

let stack;
let shots = 0;

/** A test that marks the stack as failed (so `after` prints the servers' output). */
function it(name, fn) {
  test(name, async (t) => {
    try {
      await fn(t);
    } catch (error) {
      if (stack) stack.failed = true;
      throw error;
    }
  });
}

async function withPage(fn) {
  const context = await newContext(stack);
  try {
    return await fn(await context.newPage());
  } finally {
    await context.close();
  }
}

const isMonban = (url) => String(url).startsWith(`${stack.monbanUrl}/`);
const isPortalHome = (url) => String(url) === `${stack.portalUrl}/`;
const text = async (locator) => (await locator.textContent()).trim().replace(/\s+/g, ' ');
const texts = async (locator) => (await locator.allTextContents()).map((s) => s.trim().replace(/\s+/g, ' '));

async function assertVisible(locator, what) {
  await locator.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => {});
  assert.equal(await locator.count(), 1, `exactly one ${what}`);
  assert.ok(await locator.isVisible(), `${what} is visible`);
}

async function assertPage(page, title) {
  await assertVisible(page.getByRole('heading', { level: 2, name: title, exact: true }), `heading ${title}`);
  assert.equal(await page.title(), `${title} - ${REALM_TITLE}`, `the tab title of ${title}`);
}

async function labelText(page, id) {
  return text(page.locator(`label[for="${id}"]`));
}

async function errorLines(page) {
  const alert = page.getByRole('alert');
  await assertVisible(alert, 'error message');
  const lines = alert.locator('.error-line');
  if (await lines.count() === 0) return [await text(alert)];
  return texts(lines);
}

/** Checks the page fits a phone, then photographs it at phone and PC width. */
async function look(page, name) {
  shots += 1;
  const file = `otp-app-${String(shots).padStart(2, '0')}-${name}`;
  await page.setViewportSize(PHONE);
  const size = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  }));
  assert.ok(size.scrollWidth <= size.innerWidth, `${name} is wider than a phone: ${JSON.stringify(size)}`);
  await screenshot(page, `${file}-phone`);
  await page.setViewportSize(PC);
  await screenshot(page, `${file}-pc`);
}

// ---- the "app": otplib, on the real clock ----

const PERIOD = 30;
const stepNow = () => Math.floor(Date.now() / 1000 / PERIOD);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** The key as the member types it into the app: in lowercase, without the spaces. */
const typedKey = (shown) => shown.replaceAll(' ', '').toLowerCase();

/** The app's code of time step `step`. */
const codeOfStep = (key, step) => generate({ secret: key, epoch: step * PERIOD });

/** Waits until the clock reaches `step`. */
async function waitForStep(step) {
  while (stepNow() < step) await sleep(200);
}

/** The current step, with at least 3 seconds of it left (a code typed now arrives in it). */
async function settledStep() {
  if (PERIOD - (Date.now() / 1000) % PERIOD < 3) await waitForStep(stepNow() + 1);
  return stepNow();
}

/** A 6-digit code that is none of the app's codes around now. */
async function wrongCode(key) {
  const step = stepNow();
  const near = await Promise.all([-2, -1, 0, 1, 2].map((d) => codeOfStep(key, step + d)));
  for (let n = 0; ; n += 1) {
    const candidate = String(n * 111_111 % 1_000_000).padStart(6, '0');
    if (!near.includes(candidate)) return candidate;
  }
}

/**
 * The QR code read back from a screenshot of the page, as an authenticator extension reading
 * the screen would (jsQR on the pixels).
 */
async function readQrCode(page) {
  const png = await page.locator('#otp-qr svg').screenshot();
  const blank = await page.context().newPage();
  try {
    const pixels = await blank.evaluate(async (base64) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      const context = canvas.getContext('2d');
      context.drawImage(image, 0, 0);
      const data = context.getImageData(0, 0, canvas.width, canvas.height);
      return { width: data.width, height: data.height, rgba: Array.from(data.data) };
    }, png.toString('base64'));
    const found = jsQR(Uint8ClampedArray.from(pixels.rgba), pixels.width, pixels.height);
    assert.ok(found, `a QR code in the ${pixels.width}×${pixels.height} screenshot`);
    return found.data;
  } finally {
    await blank.close();
  }
}

// ---- the pages ----

async function openLoginPage(page) {
  await page.goto(`${stack.portalUrl}/`);
  await page.getByRole('link', { name: 'ログイン', exact: true }).click();
  await page.waitForURL(isMonban);
  await page.locator('#login-form').waitFor();
}

async function submitLogin(page, member) {
  await page.locator('#username').fill(member.userId);
  await page.locator('#password').fill(member.password);
  await submitAndWait(page, page.getByRole('button', { name: 'ログイン', exact: true }));
}

/** On the portal, logged in; returns the ID token's claims. */
const assertOnPortal = (page, member) => arriveAtPortal(stack, page, member);

function assertSecondFactorClaims(claims) {
  assert.equal(claims.acr, '2', 'a second factor: acr 2');
  const amr = JSON.parse(claims.amr);
  assert.ok(amr.includes('pwd') && amr.includes('otp') && amr.includes('mfa'), `amr ${claims.amr}`);
}

async function logOut(page) {
  await page.getByRole('link', { name: 'ログアウト', exact: true }).click();
  await submitAndWait(page, page.getByRole('button', { name: 'ログアウトする', exact: true }));
  await page.waitForURL(isPortalHome);
  await assertVisible(page.getByRole('link', { name: 'ログイン', exact: true }), 'the portal signed out');
}

/** The set-up page in QR mode; returns the key the QR code carries. */
async function setupPageScan(page, member, { shot }) {
  await assertPage(page, T.setupTitle);
  assert.equal(await text(page.locator('#configure-otp-warning')), T.setupWarning);
  const steps = page.locator('#otp-setup-steps > li');
  assert.equal(await steps.count(), 3);
  for (const [i, step] of T.scanSteps.entries()) {
    assert.ok((await text(steps.nth(i))).startsWith(step), `step ${i + 1}: ${step}`);
  }
  assert.deepEqual(await texts(page.locator('#otp-apps li')), T.apps);
  assert.equal(await labelText(page, 'totp'), `${T.otpLabel} *`);
  const code = page.locator('#totp');
  assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await code.getAttribute('inputmode'), 'numeric');
  assert.equal(await labelText(page, 'userLabel'), T.deviceNameLabel);
  assert.equal(await text(page.locator('#userLabel-hint')), T.deviceNameHint);
  assert.equal(await labelText(page, 'logout-sessions'), T.signOutAll);
  assert.equal(await page.getByLabel(T.signOutAll, { exact: true }).isChecked(), false);
  await assertVisible(page.getByRole('button', { name: T.submit, exact: true }), `button ${T.submit}`);
  await assertVisible(page.getByRole('button', { name: T.cannotScan, exact: true }), `「${T.cannotScan}」`);

  // The QR code: dark on white, big enough, and read back from the screen at both widths.
  const qr = page.locator('#otp-qr svg');
  await assertVisible(qr, 'the QR code');
  assert.equal(await page.locator('#otp-qr').getAttribute('role'), 'img');
  const uris = [];
  for (const viewport of [PC, PHONE]) {
    await page.setViewportSize(viewport);
    const box = await qr.boundingBox();
    assert.ok(box.width >= 240 && box.width <= viewport.width, `QR code ${box.width}px wide at ${viewport.width}px`);
    uris.push(await readQrCode(page));
  }
  await page.setViewportSize(PC);
  assert.equal(uris[0], uris[1]);
  const uri = new URL(uris[0]);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(decodeURIComponent(uri.pathname), `/${REALM_TITLE}:${member.userId}`, 'issuer: account');
  assert.equal(uri.searchParams.get('issuer'), REALM_TITLE);
  const secret = uri.searchParams.get('secret');
  assert.match(secret, /^[A-Z2-7]{32}$/, '160 bits of key');
  await look(page, shot);
  return secret;
}

/** 「スキャンできませんか？」: the key in groups of four and the settings. Returns the key shown. */
async function setupPageManual(page, { secret, shot }) {
  await submitAndWait(page, page.getByRole('button', { name: T.cannotScan, exact: true }));
  await assertPage(page, T.setupTitle);
  const steps = page.locator('#otp-setup-steps > li');
  assert.equal(await steps.count(), 4);
  assert.ok((await text(steps.nth(1))).startsWith(T.enterKey));
  const shown = await text(page.locator('#otp-key'));
  assert.match(shown, /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/, 'the key in groups of four');
  assert.equal(shown.replaceAll(' ', ''), secret, 'the key of the QR code');
  assert.deepEqual(await texts(page.locator('#otp-settings li')), T.settings);
  await assertVisible(page.getByRole('button', { name: T.scanInstead, exact: true }), `「${T.scanInstead}」`);
  assert.equal(await page.locator('#otp-qr').count(), 0, 'no QR code in manual mode');
  await look(page, shot);
  return shown;
}

async function setUp(page, { code, name }) {
  await page.getByLabel(`${T.otpLabel} *`, { exact: true }).fill(code);
  await page.getByLabel(T.deviceNameLabel, { exact: true }).fill(name);
  await submitAndWait(page, page.getByRole('button', { name: T.submit, exact: true }));
}

/** The login's OTP page: what is on it. */
async function loginOtpPage(page, { devices, shot }) {
  await assertPage(page, T.loginTitle);
  assert.equal(await labelText(page, 'otp'), T.otpLabel);
  const input = page.locator('#otp');
  assert.equal(await input.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await input.getAttribute('inputmode'), 'numeric');
  await assertVisible(page.getByRole('button', { name: T.toTop, exact: true }), `button ${T.toTop}`);
  const radios = page.getByRole('radio');
  assert.equal(await radios.count(), devices.length > 1 ? devices.length : 0, 'a selector only for several devices');
  if (devices.length > 1) {
    assert.deepEqual(await texts(page.locator('#otp-devices label')), devices);
    assert.ok(await page.getByLabel(devices[0], { exact: true }).isChecked(), 'the first device by default');
  }
  await look(page, shot);
}

async function enterCode(page, code) {
  await page.getByLabel(T.otpLabel, { exact: true }).fill(code);
  await submitAndWait(page, page.getByRole('button', { name: T.toTop, exact: true }));
}

describe('OTP app (SPEC §4.2)', () => {
  before(async () => {
    stack = await startStack({ demoRealmExtra: REALM_EXTRA });
  });
  after(async () => {
    await stack?.stop();
  });

  let key; // the first device's, as typed into the app
  let lastStep; // the step of its last accepted code

  it('a member chooses the app at the first login, sets it up from the key and logs in with its codes', async () => {
    await withPage(async (page) => {
      await openLoginPage(page);
      await submitLogin(page, TARO);
      await assertPage(page, 'ユーザIDの変更・認証方法の設定');
      await page.locator('#method').selectOption({ label: T.methodOtpApp });
      await submitAndWait(page, page.locator('#submit'));

      const secret = await setupPageScan(page, TARO, { shot: 'setup-qr' });
      const shown = await setupPageManual(page, { secret, shot: 'setup-key' });
      key = typedKey(shown);

      // A wrong code: told so; the name stays, the code does not.
      await setUp(page, { code: await wrongCode(key), name: 'iOS' });
      assert.deepEqual(await errorLines(page), [T.setupWrong]);
      assert.equal(await page.locator('#userLabel').inputValue(), 'iOS');
      assert.equal(await page.locator('#totp').inputValue(), '');
      assert.equal(await page.locator('#otp-key').count(), 1, 'still in manual mode');
      await look(page, 'setup-wrong-code');

      // The code that just changed is still accepted (the manual warns codes change every 30 s).
      const setupStep = (await settledStep()) - 1;
      const setupCode = await codeOfStep(key, setupStep);
      await setUp(page, { code: setupCode, name: 'iOS' });
      await assertOnPortal(page, TARO);
      await logOut(page);

      await openLoginPage(page);
      await submitLogin(page, TARO);
      await loginOtpPage(page, { devices: ['iOS'], shot: 'login' });
      // The set-up's code never logs in; nor does a code three steps old.
      await enterCode(page, setupCode);
      assert.deepEqual(await errorLines(page), [T.loginWrong]);
      await look(page, 'login-wrong-code');
      await enterCode(page, await codeOfStep(key, stepNow() - 3));
      assert.deepEqual(await errorLines(page), [T.loginWrong]);
      // One step old: accepted (once a step after the set-up's has begun).
      await waitForStep(setupStep + 2);
      lastStep = (await settledStep()) - 1;
      await enterCode(page, await codeOfStep(key, lastStep));
      assertSecondFactorClaims(await assertOnPortal(page, TARO));
      await logOut(page);
    });
  });

  it('a second device, added at the society\'s request, is chosen by name at login', async () => {
    assert.ok(key, 'the first test set up a device');
    await stack.monban('user', 'require-action', '--realm', 'demo', '--user-id', TARO.userId, 'configure-otp');
    await withPage(async (page) => {
      await openLoginPage(page);
      await submitLogin(page, TARO);
      await assertPage(page, T.loginTitle);
      await waitForStep(lastStep + 1);
      await enterCode(page, await codeOfStep(key, await settledStep()));

      // The set-up page again; the first device's name is taken.
      const secret = await setupPageScan(page, TARO, { shot: 'second-setup-qr' });
      assert.notEqual(typedKey(secret), key, 'a key of its own');
      const second = typedKey(await setupPageManual(page, { secret, shot: 'second-setup-key' }));
      await setUp(page, { code: await codeOfStep(second, await settledStep()), name: 'iOS' });
      assert.deepEqual(await errorLines(page), [T.nameTaken]);
      await look(page, 'second-setup-name-taken');
      // A code of the moment: the screenshots above may have taken a step's time on a slow machine.
      const setUpCode = await codeOfStep(second, await settledStep());
      await setUp(page, { code: setUpCode, name: 'iOS2' });
      await assertOnPortal(page, TARO);
      await logOut(page);

      await openLoginPage(page);
      await submitLogin(page, TARO);
      await loginOtpPage(page, { devices: ['iOS', 'iOS2'], shot: 'login-choose-device' });
      await page.getByText('iOS2', { exact: true }).click(); // the label chooses the device
      assert.ok(await page.getByLabel('iOS2', { exact: true }).isChecked());
      // A replayed code is refused; the choice stays.
      await enterCode(page, setUpCode);
      assert.deepEqual(await errorLines(page), [T.loginWrong]);
      assert.ok(await page.getByLabel('iOS2', { exact: true }).isChecked(), 'iOS2 still chosen');
      // The next step's code (the app's clock a little ahead) is accepted.
      await enterCode(page, await codeOfStep(second, (await settledStep()) + 1));
      assertSecondFactorClaims(await assertOnPortal(page, TARO));
    });
  });
});
