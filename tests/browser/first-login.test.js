// The first-login set-up (SPEC §3) as a member sees it, in both example realms' orders:
// daiwakenpo (birthdate → terms → user ID + method → new password → email) and ajinomotokenpo
// (birthdate → terms → email → verification → user ID + method → new password). From the demo
// portal's 「ログイン」 with the temporary ID and password to the portal, logged in; every page
// with its Japanese texts, a validation message per form, the forbidden-character list, the
// verification mail caught by monban-smtp-sink and its link opened on another device; then the
// new ID and password log straight in. Every page is checked and photographed at phone and PC
// width (artifacts/screenshots/first-login-*.png).
//
//   cargo build -p monban-server -p monban-portal-demo -p monban-smtp-sink && cd tests/browser && npm install && npm test

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, newContext, screenshot, startStack } from './harness.js';
import { submitAndWait } from './set-up.js';
import { virtualAuthenticator } from './webauthn.js';

const PHONE = { width: 390, height: 844 };
const PC = { width: 1280, height: 800 };
const PHONE_CONTEXT = { viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

// The texts a member reads (themes/default/messages/messages_ja.toml, SPEC §2–§3).
const T = {
  invalidCredentials: '無効なユーザIDまたはパスワードです。',
  submit: '実行',
  signOutAll: '全てのデバイスからサインアウトする',
  birthdateTitle: '生年月日の入力',
  birthdateInstruction: '本人確認のため生年月日での認証が必要です。生年月日を数字8桁で入力して下さい。',
  birthdateLabel: '生年月日 (入力例:19790822)',
  birthdateInvalid: '生年月日を数字8桁で入力して下さい。（入力例:19790822）',
  birthdateWrong: '生年月日が正しくありません。',
  termsTitle: '利用規約',
  termsAccept: '同意する',
  termsDecline: '同意しない',
  emailTitle: 'メールアドレスの更新',
  emailLabel: 'メールアドレス *',
  requiredNote: '* 必須フィールド',
  emailEmpty: 'メールアドレスを入力してください。',
  emailTaken: '他のアカウントで設定されているメールアドレスです。別のメールアドレスを入力してください。',
  emailInvalid: '無効なメールアドレスです。入力したメールアドレスに誤りがないかご確認ください。',
  verifyTitle: 'メール認証',
  verifySent: (email) => `${email} 宛にメールを送信しました。`,
  verifyInstruction: '届いたメールを開き、「メールアドレスの確認」をクリックしてください。確認が済んだら、この画面に戻り、ページを更新するか「次へ」を押してください。',
  verifyContinue: '次へ',
  verifyNotReceived: '※メールが届かない場合は再送信を選択してください',
  resend: '再送信',
  changeEmail: 'メールアドレスを変更する',
  notVerifiedYet: 'メールアドレスの確認がまだ完了していません。届いたメールの「メールアドレスの確認」をクリックしてください。',
  mailSubject: (shortName) => `【${shortName}】メールアドレス確認のお願い`,
  otpMailTitle: 'ワンタイムパスワード (OTP) メール認証',
  otpMailInstruction: '受信したワンタイムパスワードを入力してください。',
  otpMailSubject: (shortName) => `【${shortName}】ワンタイムパスワードのお知らせ`,
  linkInstruction: '「メールアドレスを確認する」を押して、メールアドレスの確認を完了してください。',
  linkConfirm: 'メールアドレスを確認する',
  linkDone: 'メールアドレスが確認されました。元の画面に戻り、更新してください。',
  userIdTitle: 'ユーザIDの変更・認証方法の設定',
  userIdIntro: ['ユーザIDの変更が可能です。', '認証方法の設定が必要です。生体認証、OTP(ワンタイムパスワード) 認証のいずれかを選択してください。'],
  userIdLabel: 'ユーザID *',
  userIdRules: '半角英数字と記号（- _ . @）で8文字以上、13文字以内で入力してください。英字の大文字は小文字に変換されます。',
  forbiddenShow: '利用不可文字一覧を見る',
  forbiddenHeading: '以下の文字はユーザIDに利用できません：',
  methodLabel: '認証方法 *',
  methods: ['選択してください', '生体認証', 'ワンタイムパスワード (OTP) アプリ認証', 'ワンタイムパスワード (OTP) メール認証'],
  methodRequired: '認証方法を選択してください。',
  userIdTooShort: 'ユーザIDは8文字以上で入力してください。',
  userIdForbidden: 'ユーザIDに利用できない文字が含まれています。「利用不可文字一覧を見る」からご確認ください。',
  userIdTaken: 'このユーザIDは既に使用されています。別のユーザIDを入力してください。',
  passwordTitle: 'パスワードの更新',
  passwordWarning: '⚠ パスワードを変更する必要があります。',
  passwordLabel: 'パスワード *',
  passwordConfirmLabel: 'パスワード確認 *',
  passwordNoDigit: 'パスワードには数字を1文字以上含めてください。',
  passwordTooShort: 'パスワードは8文字以上で入力してください。',
  passwordMismatch: 'パスワードが一致していません。',
  portalAccessDenied: 'ログインがキャンセルされたか、アクセスが拒否されました。',
};

/** What one example realm's stack, pages and screenshots need. */
function realmSuite(realm, { title, shortName }) {
  const suite = { realm, title, shortName, stack: null, shots: 0 };
  before(async () => {
    suite.stack = await startStack({ realm });
  });
  after(async () => {
    await suite.stack?.stop();
  });
  return suite;
}

/** A test that marks the stack as failed (so `after` prints the servers' output). */
function it(suite, name, fn) {
  test(name, async (t) => {
    try {
      await fn(t);
    } catch (error) {
      if (suite.stack) suite.stack.failed = true;
      throw error;
    }
  });
}

/** Runs `fn` with a fresh browser context (no cookies), closed afterwards. */
async function withPage(suite, options, fn) {
  const context = await newContext(suite.stack, options);
  try {
    return await fn(await context.newPage(), context);
  } finally {
    await context.close();
  }
}

const isMonban = (suite) => (url) => String(url).startsWith(`${suite.stack.monbanUrl}/`);
const isPortalHome = (suite) => (url) => String(url) === `${suite.stack.portalUrl}/`;
const text = async (locator) => (await locator.textContent()).trim();
const dateDigits = (birthdate) => birthdate.replaceAll('-', '');

async function assertVisible(locator, what) {
  await locator.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => {});
  assert.equal(await locator.count(), 1, `exactly one ${what}`);
  assert.ok(await locator.isVisible(), `${what} is visible`);
}

/** From the portal's front page, follows its 「ログイン」 link to Monban's login page. */
async function openLoginPage(suite, page) {
  await page.goto(`${suite.stack.portalUrl}/`);
  await page.getByRole('link', { name: 'ログイン', exact: true }).click();
  await page.waitForURL(isMonban(suite));
  await page.locator('#login-form').waitFor();
  assert.equal(await text(page.locator('.realm-title')), suite.title, 'the realm title in the header');
}

async function submitLogin(page, userId, password) {
  await page.locator('#username').fill(userId);
  await page.locator('#password').fill(password);
  await submitAndWait(page, page.getByRole('button', { name: 'ログイン', exact: true }));
}

/** The page a member is on: its heading, the realm in the header and the browser tab's title. */
async function assertPage(suite, page, title) {
  await assertVisible(page.getByRole('heading', { level: 2, name: title, exact: true }), `heading ${title}`);
  assert.equal(await text(page.locator('.realm-title')), suite.title, `the realm title above ${title}`);
  assert.equal(await page.title(), `${title} - ${suite.title}`, `the tab title of ${title}`);
}

/** The lines of the page's error message (one `role="alert"` box). */
async function errorLines(page) {
  const alert = page.getByRole('alert');
  await assertVisible(alert, 'error message');
  const lines = alert.locator('.error-line');
  if (await lines.count() === 0) return [await text(alert)];
  return (await lines.allTextContents()).map((line) => line.trim());
}

async function labelText(page, id) {
  return (await text(page.locator(`label[for="${id}"]`))).replace(/\s+/g, ' ');
}

/** The next screenshot's name: first-login-<realm>-NN-<name>, numbered in the member's order. */
function shotName(suite, name) {
  suite.shots += 1;
  return `first-login-${suite.realm}-${String(suite.shots).padStart(2, '0')}-${name}`;
}

/**
 * Checks the page at phone width (nothing wider than the screen), then photographs it at phone
 * and at PC width: artifacts/screenshots/first-login-<realm>-NN-<name>-{phone,pc}.png.
 */
async function look(suite, page, name) {
  const file = shotName(suite, name);
  const previous = page.viewportSize();
  await page.setViewportSize(PHONE);
  const size = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  }));
  assert.equal(size.innerWidth, PHONE.width, `${name}: the phone viewport`);
  assert.ok(size.scrollWidth <= size.innerWidth, `${name} is wider than a phone: ${JSON.stringify(size)}`);
  await screenshot(page, `${file}-phone`);
  await page.setViewportSize(PC);
  await screenshot(page, `${file}-pc`);
  await page.setViewportSize(previous);
}

// ---- the pages, one helper each: what is on them, and what a member does there ----

async function birthdatePage(suite, page, member, { mistakes }) {
  await assertPage(suite, page, T.birthdateTitle);
  assert.equal(await text(page.locator('#birthdate-instruction')), T.birthdateInstruction);
  assert.equal(await labelText(page, 'birthdate'), T.birthdateLabel);
  const input = page.getByLabel('生年月日');
  assert.equal(await input.getAttribute('placeholder'), 'YYYYMMDD');
  assert.equal(await input.getAttribute('inputmode'), 'numeric');
  assert.equal(await input.getAttribute('autocomplete'), 'one-time-code');
  await assertVisible(page.getByRole('button', { name: T.submit, exact: true }), `button ${T.submit}`);
  await look(suite, page, 'birthdate');

  for (const [typed, message] of mistakes) {
    await input.fill(typed);
    await submitAndWait(page, page.locator('#submit'));
    await assertPage(suite, page, T.birthdateTitle);
    assert.deepEqual(await errorLines(page), [message], `birthdate ${typed}`);
  }
  await look(suite, page, 'birthdate-error');

  await input.fill(dateDigits(member.birthdate));
  await submitAndWait(page, page.locator('#submit'));
}

async function termsPage(suite, page) {
  await assertPage(suite, page, T.termsTitle);
  const box = page.locator('#terms-text');
  const terms = readFileSync(join(REPO, 'config', 'terms', `${suite.realm}.txt`), 'utf8');
  assert.equal((await box.textContent()).trim(), terms.trim(), 'the realm\'s terms, line breaks kept');
  assert.equal(await box.getAttribute('aria-label'), T.termsTitle);
  await assertVisible(page.getByRole('button', { name: T.termsAccept, exact: true }), `button ${T.termsAccept}`);
  await assertVisible(page.getByRole('button', { name: T.termsDecline, exact: true }), `button ${T.termsDecline}`);
  await look(suite, page, 'terms');

  // On a phone the long text scrolls inside its box (with the buttons below it on screen),
  // and never sideways.
  await page.setViewportSize(PHONE);
  const metrics = () => box.evaluate((el) => ({
    scrollHeight: el.scrollHeight, clientHeight: el.clientHeight, scrollTop: el.scrollTop,
    scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
  }));
  const start = await metrics();
  assert.ok(start.scrollHeight > start.clientHeight, `the terms scroll in their box on a phone: ${JSON.stringify(start)}`);
  assert.ok(start.scrollWidth <= start.clientWidth, `no sideways scrolling in the terms: ${JSON.stringify(start)}`);
  const accept = await page.locator('#accept').boundingBox();
  assert.ok(accept.y + accept.height <= PHONE.height, `「${T.termsAccept}」 is on the first screen: ${JSON.stringify(accept)}`);
  await box.hover();
  await page.mouse.wheel(0, 5_000);
  await page.waitForFunction(
    (el) => el.scrollTop > 0 && el.scrollTop + el.clientHeight >= el.scrollHeight - 1,
    await box.elementHandle(),
  );
  await screenshot(page, `${shotName(suite, 'terms-scrolled')}-phone`);
  await page.setViewportSize(PC);
}

async function acceptTerms(suite, page) {
  await termsPage(suite, page);
  await submitAndWait(page, page.getByRole('button', { name: T.termsAccept, exact: true }));
}

async function emailPage(suite, page, member, { taken, invalid, newEmail }) {
  await assertPage(suite, page, T.emailTitle);
  assert.equal(await text(page.locator('.required-note')), T.requiredNote);
  assert.equal(await labelText(page, 'email'), T.emailLabel);
  const input = page.locator('#email');
  assert.equal(await input.inputValue(), member.email, 'the registered address, editable');
  assert.equal(await input.getAttribute('autocomplete'), 'email');
  assert.equal(await labelText(page, 'logout-sessions'), T.signOutAll);
  assert.equal(await page.getByLabel(T.signOutAll, { exact: true }).isChecked(), false);
  await assertVisible(page.getByRole('button', { name: T.submit, exact: true }), `button ${T.submit}`);
  await look(suite, page, 'email');

  for (const [typed, message] of [['', T.emailEmpty], [taken, T.emailTaken], [invalid, T.emailInvalid]]) {
    await input.fill(typed);
    await submitAndWait(page, page.locator('#submit'));
    await assertPage(suite, page, T.emailTitle);
    assert.deepEqual(await errorLines(page), [message], `email ${JSON.stringify(typed)}`);
    assert.equal(await input.inputValue(), typed, 'what the member typed is kept');
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
  }
  await look(suite, page, 'email-error');

  await input.fill(newEmail);
  await submitAndWait(page, page.locator('#submit'));
}

async function userIdPage(suite, page, member, { mistakes, newUserId, method }) {
  await assertPage(suite, page, T.userIdTitle);
  assert.deepEqual((await page.locator('ul.intro li').allTextContents()).map((s) => s.trim()), T.userIdIntro);
  assert.equal(await labelText(page, 'user_id'), T.userIdLabel);
  const input = page.locator('#user_id');
  assert.equal(await input.inputValue(), member.userId, 'prefilled with the temporary ID');
  assert.equal(await text(page.locator('#user-id-rules')), T.userIdRules);
  assert.equal(await labelText(page, 'method'), T.methodLabel);
  const select = page.locator('#method');
  assert.deepEqual((await select.locator('option').allTextContents()).map((s) => s.trim()), T.methods);
  assert.equal(await select.inputValue(), '', 'no method chosen yet');
  await assertVisible(page.getByRole('button', { name: T.submit, exact: true }), `button ${T.submit}`);

  // The forbidden characters are listed only when asked for.
  const list = page.locator('#forbidden-characters');
  const heading = page.getByText(T.forbiddenHeading, { exact: true });
  assert.equal(await list.evaluate((details) => details.open), false, 'the list starts closed');
  assert.equal(await heading.isVisible(), false, 'the list is hidden at first');
  await look(suite, page, 'user-id');
  await page.getByText(T.forbiddenShow, { exact: true }).click();
  await assertVisible(heading, 'the heading of the forbidden characters');
  const items = (await list.locator('li').allTextContents()).map((s) => s.trim());
  for (const item of ['<（小なり記号）', '>（大なり記号）', '&（アンパサンド）', '§（セクション記号）', '`（バッククォート）']) {
    assert.ok(items.includes(item), `${item} is listed: ${JSON.stringify(items)}`);
  }
  assert.ok(await list.locator('li').last().isVisible(), 'the whole list is shown');
  await look(suite, page, 'user-id-forbidden-list');

  for (const { userId, methodLabel, messages } of mistakes) {
    await input.fill(userId);
    await select.selectOption({ label: methodLabel });
    await submitAndWait(page, page.locator('#submit'));
    await assertPage(suite, page, T.userIdTitle);
    assert.deepEqual(await errorLines(page), messages, `user ID ${JSON.stringify(userId)} with ${methodLabel}`);
    assert.equal(await input.inputValue(), userId, 'the typed ID is kept');
  }
  await look(suite, page, 'user-id-error');

  await input.fill(newUserId);
  await select.selectOption({ label: method });
  await submitAndWait(page, page.locator('#submit'));
}

async function passwordPage(suite, page, { newPassword }) {
  await assertPage(suite, page, T.passwordTitle);
  assert.equal(await text(page.locator('#update-password-warning')), T.passwordWarning);
  assert.equal(await labelText(page, 'password-new'), T.passwordLabel);
  assert.equal(await labelText(page, 'password-confirm'), T.passwordConfirmLabel);
  const fresh = page.locator('#password-new');
  const confirm = page.locator('#password-confirm');
  for (const input of [fresh, confirm]) {
    assert.equal(await input.getAttribute('type'), 'password');
    assert.equal(await input.getAttribute('autocomplete'), 'new-password');
  }
  assert.equal(await labelText(page, 'logout-sessions'), T.signOutAll);
  await assertVisible(page.getByRole('button', { name: T.submit, exact: true }), `button ${T.submit}`);
  await look(suite, page, 'password');

  // The manual's example of a refused password, a short one, and a mistyped confirmation.
  const mistakes = [
    ['Daiwauser', 'Daiwauser', [T.passwordNoDigit]],
    ['abc123', 'abc123', [T.passwordTooShort]],
    [newPassword, `${newPassword}x`, [T.passwordMismatch]],
  ];
  for (const [typed, confirmation, messages] of mistakes) {
    await fresh.fill(typed);
    await confirm.fill(confirmation);
    await submitAndWait(page, page.locator('#submit'));
    await assertPage(suite, page, T.passwordTitle);
    assert.deepEqual(await errorLines(page), messages, `password ${typed} / ${confirmation}`);
    assert.equal(await fresh.inputValue(), '', 'the password is not sent back');
    assert.equal(await confirm.inputValue(), '', 'the confirmation is not sent back');
  }
  await look(suite, page, 'password-error');

  await fresh.fill(newPassword);
  await confirm.fill(newPassword);
  await submitAndWait(page, page.locator('#submit'));
}

/** The portal's front page, logged in as `member`, with what the set-up changed in its ID token. */
async function assertOnPortal(suite, page, member, { userId, email, emailVerified }) {
  await page.waitForURL(isPortalHome(suite));
  assert.equal(await text(page.locator('#welcome')), `ようこそ、${member.displayName} さん`);
  await assertVisible(page.getByRole('link', { name: 'ログアウト', exact: true }), 'the portal\'s ログアウト link');
  assert.equal(await page.getByRole('link', { name: 'ログイン', exact: true }).count(), 0, 'no ログイン link');
  const claims = Object.fromEntries(await page.locator('#id-token-claims tr').evaluateAll((rows) =>
    rows.map((row) => [row.querySelector('th').textContent.trim(), row.querySelector('td').textContent.trim()])));
  assert.equal(claims.iss, suite.stack.issuer, 'an ID token of this realm');
  assert.equal(claims.aud, 'portal');
  assert.equal(claims.name, member.displayName);
  assert.equal(claims.preferred_username, userId, 'the new user ID, in lowercase');
  assert.equal(claims.email, email, 'the new address');
  assert.equal(claims.email_verified, String(emailVerified));
  const userinfo = JSON.parse(await page.locator('#userinfo').textContent());
  assert.equal(userinfo.preferred_username, userId);
  assert.equal(userinfo.email, email);
  assert.equal(userinfo.email_verified, emailVerified);
}

/** A later login with the new ID and password: from the login form straight to the portal. */
/**
 * The OTP-mail second factor (SPEC §4.3): the page, the code from the mail the sink caught,
 * and on to the portal.
 */
async function otpMailPage(suite, page, { email }) {
  await assertPage(suite, page, T.otpMailTitle);
  await assertVisible(page.getByText(T.otpMailInstruction, { exact: true }), 'the instruction');
  const mail = await suite.stack.nextMail();
  assert.equal(mail.subject, T.otpMailSubject(suite.shortName));
  assert.deepEqual(mail.rcpt_to, [`TO:<${email}>`]);
  const code = /ワンタイムパスワード：(\d{6})/.exec(mail.text)?.[1];
  assert.ok(code, `a 6-digit code in the mail:\n${mail.text}`);
  assert.ok(mail.html.includes(code), 'the HTML part has the code too');
  await page.getByLabel('ワンタイムパスワード', { exact: true }).fill(code);
  await submitAndWait(page, page.getByRole('button', { name: '実行', exact: true }));
}

/**
 * The passkey enrolment (SPEC §4.1) on `phone`, Chromium's virtual authenticator:
 * 「セキュリティの設定」 → 次へ → the name, 「パスキー」 by default → OK.
 */
async function passkeyEnrolment(suite, page, phone) {
  await assertPage(suite, page, 'セキュリティの設定');
  assert.equal(await labelText(page, 'logout-sessions'), T.signOutAll);
  await look(suite, page, 'passkey-setup');
  await submitAndWait(page, page.getByRole('button', { name: '次へ', exact: true }));
  await assertPage(suite, page, 'セキュリティの設定');
  assert.equal(await page.getByLabel('このデバイスに名前を付けてください', { exact: false }).inputValue(), 'パスキー');
  await look(suite, page, 'passkey-name');
  await submitAndWait(page, page.getByRole('button', { name: 'OK', exact: true }));
  assert.equal((await phone.credentials()).length, 1, 'the passkey is on the phone');
}

async function loginAgain(suite, member, { oldUserId, userId, password, email, emailVerified, otpMail = false, passkeys }) {
  await withPage(suite, {}, async (page) => {
    if (passkeys) {
      // The same phone, in a new browser.
      await (await virtualAuthenticator(page)).addCredentials(passkeys);
    }
    await openLoginPage(suite, page);
    // The temporary ID is gone.
    await submitLogin(page, oldUserId, password);
    assert.deepEqual(await errorLines(page), [T.invalidCredentials], 'the temporary ID no longer logs in');

    const monbanPages = [];
    page.on('response', (response) => {
      if (response.request().resourceType() === 'document' && isMonban(suite)(response.url()) && response.status() < 300) {
        monbanPages.push(response.url());
      }
    });
    await submitLogin(page, userId.toUpperCase(), password);
    if (passkeys) {
      // The second factor the member chose; nothing of the set-up again.
      await assertPage(suite, page, 'パスキーでログイン');
      await look(suite, page, 'passkey-login');
      await submitAndWait(page, page.getByRole('button', { name: '次へ', exact: true }));
      assert.equal(monbanPages.length, 1, `only the passkey page on the way: ${monbanPages}`);
      monbanPages.length = 0;
    }
    if (otpMail) {
      // The second factor the member chose; nothing of the set-up again.
      await otpMailPage(suite, page, { email });
      assert.equal(monbanPages.length, 1, `only the OTP page on the way: ${monbanPages}`);
      monbanPages.length = 0;
    }
    await assertOnPortal(suite, page, member, { userId, email, emailVerified });
    assert.deepEqual(monbanPages, [], 'no set-up page on the way');
  });
}

// ---- the realms ----

describe('first login in daiwakenpo: birthdate → terms → user ID + method → new password → email (SPEC §3)', () => {
  const suite = realmSuite('daiwakenpo', { title: '大和総研健保加入者ページ', shortName: '大和総研健保' });
  const NEW_USER_ID = 'daiwa.taro1';
  const NEW_PASSWORD = 'd00000000'; // the manual's example of a good password
  const NEW_EMAIL = 'taro.new@daiwakenpo.example';

  it(suite, 'a provisioned member sets everything up and lands on the portal; then logs in with the new ID', async () => {
    const [taro, hanako] = suite.stack.members;
    let passkeys;
    await withPage(suite, {}, async (page) => {
      const phone = await virtualAuthenticator(page);
      await openLoginPage(suite, page);
      await submitLogin(page, taro.userId, taro.password);

      await birthdatePage(suite, page, taro, {
        mistakes: [['1979082', T.birthdateInvalid], ['19790823', T.birthdateWrong]],
      });
      await acceptTerms(suite, page);
      await userIdPage(suite, page, taro, {
        mistakes: [
          { userId: 'daiwa1', methodLabel: T.methods[0], messages: [T.userIdTooShort, T.methodRequired] },
          { userId: hanako.userId.toUpperCase(), methodLabel: T.methods[1], messages: [T.userIdTaken] },
        ],
        newUserId: NEW_USER_ID.replace('daiwa', 'Daiwa'), // uppercase is accepted and stored in lowercase
        method: T.methods[1],
      });
      await passwordPage(suite, page, { newPassword: NEW_PASSWORD });
      await emailPage(suite, page, taro, {
        taken: hanako.email,
        invalid: 'taro.@daiwakenpo.example',
        newEmail: NEW_EMAIL,
      });

      // The chosen 生体認証 is enrolled before the portal (passkey.test.js looks closer).
      await passkeyEnrolment(suite, page, phone);
      await assertOnPortal(suite, page, taro, { userId: NEW_USER_ID, email: NEW_EMAIL, emailVerified: false });
      await look(suite, page, 'portal');
      passkeys = await phone.credentials();
    });
    assert.equal(suite.stack.mailCount(), 0, 'this realm does not verify the address: no mail');

    await loginAgain(suite, taro, {
      oldUserId: taro.userId, userId: NEW_USER_ID, password: NEW_PASSWORD, email: NEW_EMAIL, emailVerified: false,
      passkeys,
    });
  });

  it(suite, '「同意しない」 ends the login: back on the portal with access_denied, not logged in', async () => {
    const [, hanako] = suite.stack.members;
    await withPage(suite, {}, async (page) => {
      await openLoginPage(suite, page);
      await submitLogin(page, hanako.userId, hanako.password);
      await assertPage(suite, page, T.birthdateTitle);
      await page.locator('#birthdate').fill(dateDigits(hanako.birthdate));
      await submitAndWait(page, page.locator('#submit'));
      await assertPage(suite, page, T.termsTitle);

      await submitAndWait(page, page.getByRole('button', { name: T.termsDecline, exact: true }));
      await page.waitForURL((url) => String(url).startsWith(`${suite.stack.portalUrl}/callback?`));
      assert.equal(new URL(page.url()).searchParams.get('error'), 'access_denied');
      assert.equal(new URL(page.url()).searchParams.get('code'), null);
      await assertVisible(page.getByRole('heading', { name: 'エラー', exact: true }), 'the portal\'s error heading');
      assert.equal(await text(page.locator('#error-message')), T.portalAccessDenied);
      assert.equal(await page.locator('#welcome').count(), 0, 'not logged in');
      await look(suite, page, 'declined-portal');

      await page.getByRole('link', { name: 'ポータルのトップへ戻る', exact: true }).click();
      await page.waitForURL(isPortalHome(suite));
      assert.equal(await page.locator('#welcome').count(), 0, 'not logged in');
      // No SSO session either: the portal's 「ログイン」 shows Monban's form again.
      await page.getByRole('link', { name: 'ログイン', exact: true }).click();
      await page.waitForURL(isMonban(suite));
      await assertVisible(page.locator('#login-form'), 'the login form');
    });
  });
});

describe('first login in ajinomotokenpo: birthdate → terms → email → verification → user ID + method → new password (SPEC §3)', () => {
  const suite = realmSuite('ajinomotokenpo', { title: '味の素健保加入者ページ', shortName: '味の素健保' });
  const NEW_EMAIL = 'ichiro.new@ajinomotokenpo.example';
  const NEW_USER_ID = 'ichiro.aji';
  const NEW_PASSWORD = 'Ajinomoto-2025';

  it(suite, 'a provisioned member verifies the new address from another device and lands on the portal; then logs in with the new ID', async () => {
    const [ichiro, sakura] = suite.stack.members;
    await withPage(suite, {}, async (page) => {
      await openLoginPage(suite, page);
      await submitLogin(page, ichiro.userId, ichiro.password);

      await birthdatePage(suite, page, ichiro, {
        mistakes: [['19850231', T.birthdateInvalid]], // no 31 February: a validation error
      });
      await acceptTerms(suite, page);
      await emailPage(suite, page, ichiro, {
        taken: sakura.email.replace('sakura', 'Sakura'), // one address per account, whatever the case
        invalid: 'ichiro?@ajinomotokenpo.example',
        newEmail: NEW_EMAIL,
      });

      // The verification page, and the mail sent to the new address.
      await assertPage(suite, page, T.verifyTitle);
      assert.equal(await text(page.locator('#verify-email-sent')), T.verifySent(NEW_EMAIL));
      assert.equal(await text(page.locator('#verify-email-instruction')), T.verifyInstruction);
      assert.equal(await text(page.locator('#continue')), T.verifyContinue);
      assert.equal(await text(page.locator('.note')), T.verifyNotReceived);
      assert.equal(await text(page.locator('#resend')), T.resend);
      assert.equal(await text(page.locator('#change-email')), T.changeEmail);
      await look(suite, page, 'verify-email');

      const mail = await suite.stack.nextMail();
      assert.equal(mail.subject, T.mailSubject(suite.shortName));
      assert.deepEqual(mail.rcpt_to, [`TO:<${NEW_EMAIL}>`]);
      assert.equal(mail.mail_from, 'FROM:<no-reply@ajinomotokenpo.example>', 'from the realm\'s sender');
      const link = mail.text.match(/メールアドレスの確認：\s*(\S+)/)?.[1];
      assert.ok(link, `the text part carries the link:\n${mail.text}`);
      assert.ok(link.startsWith(`${suite.stack.issuer}/login-actions/verify-email?key=`), link);
      assert.ok(mail.html.includes(`href="${link.replaceAll('&', '&amp;')}"`), `the HTML part carries the link:\n${mail.html}`);
      assert.ok(mail.html.includes('メールアドレスの確認</a>'), 'the HTML part\'s button');

      // 「次へ」 before the link was opened: told so, and no second mail.
      await submitAndWait(page, page.locator('#continue'));
      await assertPage(suite, page, T.verifyTitle);
      assert.deepEqual(await errorLines(page), [T.notVerifiedYet]);
      await look(suite, page, 'verify-email-not-yet');

      // The link, opened on another device (the member's phone: no cookies of this login).
      await withPage(suite, PHONE_CONTEXT, async (phone) => {
        await phone.goto(link);
        await assertPage(suite, phone, T.verifyTitle);
        assert.equal(await text(phone.locator('#verify-email-link-instruction')), T.linkInstruction);
        await look(suite, phone, 'verify-email-link');
        await submitAndWait(phone, phone.getByRole('button', { name: T.linkConfirm, exact: true }));
        await assertPage(suite, phone, T.verifyTitle);
        assert.equal(await text(phone.locator('#message')), T.linkDone);
        await look(suite, phone, 'verify-email-done');
      });
      assert.equal(suite.stack.mailCount(), 1, 'one mail in all');

      // Back in the original tab, a refresh goes on to the user ID. (The page is the answer to
      // a form, so the browser sends 「次へ」 again, after asking the member whether to.)
      await page.reload();
      await userIdPage(suite, page, ichiro, {
        mistakes: [
          { userId: 'ichiro<001', methodLabel: T.methods[3], messages: [T.userIdForbidden] },
          { userId: sakura.userId.toUpperCase(), methodLabel: T.methods[3], messages: [T.userIdTaken] },
          { userId: NEW_USER_ID, methodLabel: T.methods[0], messages: [T.methodRequired] },
        ],
        newUserId: NEW_USER_ID,
        method: T.methods[3],
      });
      await passwordPage(suite, page, { newPassword: NEW_PASSWORD });

      await assertOnPortal(suite, page, ichiro, { userId: NEW_USER_ID, email: NEW_EMAIL, emailVerified: true });
      await look(suite, page, 'portal');
    });

    await loginAgain(suite, ichiro, {
      oldUserId: ichiro.userId, userId: NEW_USER_ID, password: NEW_PASSWORD, email: NEW_EMAIL, emailVerified: true,
      otpMail: true,
    });
  });
});
