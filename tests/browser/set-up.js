// Getting a provisioned member through the first-login set-up (SPEC §3) without looking at each
// page: for tests about what comes after it (second factors). first-login.test.js checks the
// set-up pages themselves.

/** Clicks `submit` and waits until the page it led to replaced the current one. */
export async function submitAndWait(page, submit) {
  await page.evaluate(() => { window.__beforeSubmit = true; });
  await submit.click();
  await page.waitForFunction(() => !window.__beforeSubmit);
  await page.waitForLoadState();
}

/** The heading of the login page the member is on, or null off Monban's pages. */
export async function heading(page) {
  const title = page.locator('h2.page-title');
  if (await title.count() === 0) return null;
  return (await title.first().textContent()).trim();
}

/**
 * Waits until the login led to the portal's front page and returns the claims of the ID token the
 * portal shows. If the login stopped on one of Monban's pages instead, the failure names that page
 * and its error messages, so a red run says what the member saw.
 */
export async function arriveAtPortal(stack, page, member) {
  const home = `${stack.portalUrl}/`;
  try {
    await page.waitForURL(home);
  } catch (error) {
    const alerts = await page.getByRole('alert').allTextContents().catch(() => []);
    const seen = alerts.map((s) => s.trim().replace(/\s+/g, ' ')).filter(Boolean);
    error.message = `not on the portal but on ${page.url()}, heading ${JSON.stringify(await heading(page))}`
      + `, messages ${JSON.stringify(seen)}: ${error.message}`;
    throw error;
  }
  const welcome = (await page.locator('#welcome').textContent()).trim();
  if (welcome !== `ようこそ、${member.displayName} さん`) {
    throw new Error(`the portal welcomes ${JSON.stringify(welcome)}, not ${member.displayName}`);
  }
  return Object.fromEntries(await page.locator('#id-token-claims tr').evaluateAll((rows) =>
    rows.map((row) => [row.querySelector('th').textContent.trim(), row.querySelector('td').textContent.trim()])));
}

/** From the portal's front page, follows its 「ログイン」 link and logs in. */
export async function logIn(stack, page, userId, password) {
  await page.goto(`${stack.portalUrl}/`);
  await page.getByRole('link', { name: 'ログイン', exact: true }).click();
  await page.locator('#login-form').waitFor();
  await page.locator('#username').fill(userId);
  await page.locator('#password').fill(password);
  await submitAndWait(page, page.getByRole('button', { name: 'ログイン', exact: true }));
}

/**
 * Answers every set-up page the realm asks (birthdate, terms, user ID and method, new password,
 * address, and — given the `stack` whose SMTP sink caught the mail — its verification, with the
 * link opened in another browser) and returns the heading of the first page that is not one of
 * them (a second factor's page), or null when the member reached the portal.
 */
export async function completeSetUp(page, member, { userId, password, email, method, stack }) {
  for (;;) {
    const title = await heading(page);
    switch (title) {
      case '生年月日の入力':
        await page.locator('#birthdate').fill(member.birthdate.replaceAll('-', ''));
        await submitAndWait(page, page.locator('#submit'));
        break;
      case '利用規約':
        await submitAndWait(page, page.getByRole('button', { name: '同意する', exact: true }));
        break;
      case 'ユーザIDの変更・認証方法の設定':
        await page.locator('#user_id').fill(userId);
        await page.locator('#method').selectOption({ label: method });
        await submitAndWait(page, page.locator('#submit'));
        break;
      case 'パスワードの更新':
        await page.locator('#password-new').fill(password);
        await page.locator('#password-confirm').fill(password);
        await submitAndWait(page, page.locator('#submit'));
        break;
      case 'メールアドレスの更新':
        await page.locator('#email').fill(email);
        await submitAndWait(page, page.locator('#submit'));
        break;
      case 'メール認証': {
        if (!stack) throw new Error('verifying the address needs the stack with its SMTP sink');
        const mail = await stack.nextMail();
        const link = mail.text.match(/メールアドレスの確認：\s*(\S+)/)?.[1];
        if (!link) throw new Error(`no verification link in:\n${mail.text}`);
        const phone = await page.context().browser().newContext({ locale: 'ja-JP' });
        try {
          const other = await phone.newPage();
          await other.goto(link);
          await submitAndWait(other, other.getByRole('button', { name: 'メールアドレスを確認する', exact: true }));
        } finally {
          await phone.close();
        }
        await submitAndWait(page, page.locator('#continue'));
        break;
      }
      default:
        return title;
    }
  }
}
