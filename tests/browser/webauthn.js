// Chromium's virtual authenticator (the CDP WebAuthn domain), for the passkey tests: a phone's
// platform authenticator whose user verification a test can switch off and on.

/** A virtual platform authenticator on the page's browser context, as a phone's would be. */
export async function virtualAuthenticator(page, { userVerified = true } = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: userVerified,
      automaticPresenceSimulation: true,
    },
  });
  return {
    id: authenticatorId,
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
    async verifyUser(isUserVerified) {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    },
    /** Puts credentials of another authenticator (the same phone in a new browser) on this one. */
    async addCredentials(credentials) {
      for (const credential of credentials) {
        await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
      }
    },
    async remove() {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    },
  };
}
