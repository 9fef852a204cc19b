// The login page (SPEC §2) as a member sees it: the demo portal → Monban's login page → back.
//
//   cargo build -p monban-server -p monban-portal-demo && cd tests/browser && npm install && npm test

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MEMBERS, newContext, screenshot, startStack } from './harness.js';
import { submitAndWait } from './set-up.js';

const [TARO, HANAKO] = MEMBERS;
const INVALID_CREDENTIALS = '無効なユーザIDまたはパスワードです。';

let stack;

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

/** Runs `fn` with a fresh browser context (no cookies), closed afterwards. */
async function withPage(options, fn) {
  const context = await newContext(stack, options);
  try {
    return await fn(await context.newPage(), context);
  } finally {
    await context.close();
  }
}

const isMonban = (url) => String(url).startsWith(`${stack.monbanUrl}/`);
const isPortalHome = (url) => String(url) === `${stack.portalUrl}/`;

/** From the portal's front page, follows its "ログイン" link to Monban's login page. */
async function openLoginPage(page) {
  await page.goto(`${stack.portalUrl}/`);
  await page.getByRole('link', { name: 'ログイン', exact: true }).click();
  await page.waitForURL(isMonban);
  await page.locator('#login-form').waitFor();
}

async function assertVisible(locator, what) {
  await locator.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => {});
  assert.equal(await locator.count(), 1, `exactly one ${what}`);
  assert.ok(await locator.isVisible(), `${what} is visible`);
}

async function submitLogin(page, userId, password) {
  await page.getByLabel('ユーザID', { exact: true }).fill(userId);
  await page.getByLabel('パスワード', { exact: true }).fill(password);
  await submitAndWait(page, page.getByRole('button', { name: 'ログイン', exact: true }));
}

async function assertWelcome(page, member) {
  await page.waitForURL(isPortalHome);
  assert.equal((await page.locator('#welcome').textContent()).trim(), `ようこそ、${member.displayName} さん`);
}

async function errorText(page) {
  const alert = page.getByRole('alert');
  await assertVisible(alert, 'error message');
  return (await alert.textContent()).trim();
}

/** Whether the page is wider than its viewport (the member would have to scroll sideways). */
async function horizontalOverflow(page) {
  return page.evaluate(() => {
    const root = document.documentElement;
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, overflows: root.scrollWidth > root.clientWidth };
  });
}

describe('login page (SPEC §2)', () => {
  before(async () => {
    stack = await startStack();
  });

  after(async () => {
    await stack?.stop();
  });

  it('a member logs in through the real page, with the user ID typed in uppercase', async () => {
    await withPage({}, async (page) => {
      await openLoginPage(page);
      await assertVisible(page.getByRole('heading', { name: 'ログイン', exact: true }), 'heading ログイン');
      for (const text of ['ユーザID', 'パスワード', 'ログイン状態の保存']) {
        await assertVisible(page.getByText(text, { exact: true }), `label ${text}`);
      }
      for (const name of ['パスワードを忘れた方はこちら', 'ユーザIDを忘れた方はこちら', 'ポータルに戻る']) {
        await assertVisible(page.getByRole('link', { name, exact: true }), `link ${name}`);
      }
      await assertVisible(page.getByRole('button', { name: 'ログイン', exact: true }), 'button ログイン');
      assert.equal(await page.getByRole('link', { name: 'ポータルに戻る', exact: true }).getAttribute('href'), `${stack.portalUrl}/`);

      await screenshot(page, 'login-desktop');

      // <label for> works: every input is reachable by its label.
      const userId = page.getByLabel('ユーザID', { exact: true });
      const password = page.getByLabel('パスワード', { exact: true });
      const rememberMe = page.getByLabel('ログイン状態の保存', { exact: true });
      assert.equal(await userId.getAttribute('type'), 'text');
      assert.equal(await userId.getAttribute('autocomplete'), 'username');
      assert.equal(await password.getAttribute('type'), 'password');
      assert.equal(await password.getAttribute('autocomplete'), 'current-password');
      assert.equal(await rememberMe.getAttribute('type'), 'checkbox');
      assert.equal(await rememberMe.isChecked(), false);
      await page.getByText('ログイン状態の保存', { exact: true }).click(); // clicking the label ticks the box
      assert.equal(await rememberMe.isChecked(), true);
      await page.getByText('ログイン状態の保存', { exact: true }).click();
      assert.equal(await rememberMe.isChecked(), false);

      await submitLogin(page, TARO.userId.toUpperCase(), TARO.password);
      await assertWelcome(page, TARO);
      await screenshot(page, 'portal-after-login');
    });
  });

  it('a wrong password and an unknown user ID show the very same message', async () => {
    await withPage({}, async (page) => {
      await openLoginPage(page);

      await submitLogin(page, HANAKO.userId, 'Wrong-pass9');
      assert.equal(await errorText(page), INVALID_CREDENTIALS);
      assert.ok(isMonban(page.url()), 'still on Monban');
      assert.equal(await page.getByLabel('ユーザID', { exact: true }).inputValue(), HANAKO.userId, 'the user ID is kept');
      assert.equal(await page.getByLabel('パスワード', { exact: true }).inputValue(), '', 'the password is not sent back');
      await screenshot(page, 'login-error-desktop');

      await submitLogin(page, 'nosuchuser1', 'Wrong-pass9');
      assert.equal(await errorText(page), INVALID_CREDENTIALS);
      assert.equal(await page.getByLabel('ユーザID', { exact: true }).inputValue(), 'nosuchuser1', 'the user ID is kept');

      // The form still works after errors.
      await submitLogin(page, HANAKO.userId, HANAKO.password);
      await assertWelcome(page, HANAKO);
    });
  });

  it('single sign-on: a second login goes through Monban without showing its form', async () => {
    await withPage({}, async (page) => {
      await openLoginPage(page);
      await submitLogin(page, TARO.userId, TARO.password);
      await assertWelcome(page, TARO);

      const monbanDocuments = [];
      page.on('response', (response) => {
        if (response.request().resourceType() === 'document' && isMonban(response.url())) {
          monbanDocuments.push({ url: response.url(), status: response.status() });
        }
      });
      await page.goto(`${stack.portalUrl}/login`);
      await assertWelcome(page, TARO);
      assert.ok(monbanDocuments.length > 0, 'the portal sent the browser to Monban');
      for (const { url, status } of monbanDocuments) {
        assert.ok(status >= 300 && status < 400, `Monban answered ${url} with a redirect, not a page (got ${status})`);
      }
    });
  });

  it('the language switch shows English and the choice is remembered', async () => {
    await withPage({}, async (page) => {
      await openLoginPage(page);
      assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
      await page.getByRole('link', { name: 'English', exact: true }).click();
      await page.locator('html[lang="en"]').waitFor({ state: 'attached' });

      const assertEnglish = async (when) => {
        assert.equal(await page.locator('html').getAttribute('lang'), 'en', when);
        await assertVisible(page.getByRole('button', { name: 'Log in', exact: true }), `button Log in (${when})`);
        await assertVisible(page.getByLabel('User ID', { exact: true }), `input User ID (${when})`);
        await assertVisible(page.getByLabel('Password', { exact: true }), `input Password (${when})`);
        await assertVisible(page.getByLabel('Keep me logged in', { exact: true }), `checkbox Keep me logged in (${when})`);
        await assertVisible(page.getByRole('link', { name: 'Back to the portal', exact: true }), `link Back to the portal (${when})`);
        await assertVisible(page.getByRole('link', { name: '日本語', exact: true }), `link 日本語 (${when})`);
      };
      await assertEnglish('after the click');
      await screenshot(page, 'login-desktop-en');

      await page.reload();
      await assertEnglish('after a reload');

      // A new login from the portal (the address no longer says kc_locale) stays in English.
      await openLoginPage(page);
      assert.ok(!page.url().includes('kc_locale'), 'a fresh login page address');
      await assertEnglish('on a new login');

      // Errors are in English too.
      await page.getByLabel('User ID', { exact: true }).fill(TARO.userId);
      await page.getByLabel('Password', { exact: true }).fill('Wrong-pass9');
      await submitAndWait(page, page.getByRole('button', { name: 'Log in', exact: true }));
      assert.equal(await errorText(page), 'Invalid user ID or password.');

      // Back to Japanese, and logging in still works after switching back and forth.
      await page.getByRole('link', { name: '日本語', exact: true }).click();
      await page.locator('html[lang="ja"]').waitFor({ state: 'attached' });
      await assertVisible(page.getByRole('button', { name: 'ログイン', exact: true }), 'button ログイン after switching back');
      await submitLogin(page, TARO.userId, TARO.password);
      await assertWelcome(page, TARO);
    });
  });

  it('on a phone the login page fits the screen: no sideways scrolling', async () => {
    const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
    await withPage(phone, async (page) => {
      await openLoginPage(page);
      await assertVisible(page.getByRole('button', { name: 'ログイン', exact: true }), 'button ログイン');
      const overflow = await horizontalOverflow(page);
      assert.equal(overflow.overflows, false, `login page: ${JSON.stringify(overflow)}`);
      const button = await page.getByRole('button', { name: 'ログイン', exact: true }).boundingBox();
      const input = await page.getByLabel('ユーザID', { exact: true }).boundingBox();
      assert.ok(button.x >= 0 && button.x + button.width <= 390, 'the button is inside the screen');
      assert.ok(input.x >= 0 && input.x + input.width <= 390, 'the input is inside the screen');
      await screenshot(page, 'login-phone');

      await submitLogin(page, TARO.userId, 'Wrong-pass9');
      assert.equal(await errorText(page), INVALID_CREDENTIALS);
      assert.equal((await horizontalOverflow(page)).overflows, false, 'login page with an error');
      await screenshot(page, 'login-error-phone');

      await page.getByRole('link', { name: 'English', exact: true }).click();
      await page.locator('html[lang="en"]').waitFor({ state: 'attached' });
      assert.equal((await horizontalOverflow(page)).overflows, false, 'English login page');
      await screenshot(page, 'login-phone-en');
    });

    // The narrowest phones still in use (iPhone SE 1st generation, small Androids).
    await withPage({ ...phone, viewport: { width: 320, height: 568 } }, async (page) => {
      await openLoginPage(page);
      const overflow = await horizontalOverflow(page);
      assert.equal(overflow.overflows, false, `login page at 320px: ${JSON.stringify(overflow)}`);
    });
  });

  // Pressing Back after logging in (a common gesture on phones) returns to the spent login page:
  // the member is told they are logged in, not that the login expired, and can go back.
  test('Back after a successful login says the member is logged in', async () => {
    await withPage({}, async (page) => {
      await openLoginPage(page);
      await submitLogin(page, TARO.userId, TARO.password);
      await assertWelcome(page, TARO);
      await page.goBack();
      await page.waitForLoadState();
      assert.equal(isPortalHome(page.url()), false, 'Back leads to the spent login page');
      await page.getByRole('heading', { name: 'ログイン済み' }).waitFor();
      assert.equal(await page.getByRole('heading', { name: 'ログインの有効期限切れ' }).count(), 0, 'not told the login expired');
      await page.getByRole('link', { name: 'ポータルに戻る' }).click();
      await assertWelcome(page, TARO);
    });
  });

  // SPEC §7: the portal asks, the member confirms, Monban ends the session and returns.
  it('logout from the portal ends the Monban session', async () => {
    await withPage({}, async (page) => {
      await openLoginPage(page);
      await submitLogin(page, TARO.userId, TARO.password);
      await assertWelcome(page, TARO);
      await page.getByRole('link', { name: 'ログアウト', exact: true }).click();
      await assertVisible(page.getByText('ログアウトしてもよろしいですか？', { exact: true }), 'the question');
      await submitAndWait(page, page.getByRole('button', { name: 'ログアウトする', exact: true }));
      await page.waitForURL(isPortalHome);
      await assertVisible(page.getByRole('link', { name: 'ログイン', exact: true }), 'the portal signed out');
      // The SSO session is gone: logging in again shows Monban's form.
      await page.getByRole('link', { name: 'ログイン', exact: true }).click();
      await page.waitForURL(isMonban);
      await assertVisible(page.locator('#login-form'), 'the login form');
    });
  });
});
