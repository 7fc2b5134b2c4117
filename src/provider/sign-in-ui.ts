/** How a sign-in flow talks to the person at the terminal; the command decides how it looks. */
export interface SignInUi {
  /** The browser flow's authorization URL, shown before we try to open it. */
  showAuthorizationUrl(url: string): void
  /** The device flow's code and where to enter it (RFC 8628 §3.3). */
  showDeviceCode(info: {userCode: string; verificationUri: string; verificationUriComplete?: string}): Promise<void>
  /** Why no browser can be opened on this machine (SSH, containers), or undefined. */
  browserUnavailableReason(): string | undefined
  /** Open a URL in the user's browser; resolves once the browser was started or could not be. */
  open(url: string): Promise<void>
  /**
   * The device flow's page, offered rather than opened: at a terminal on Enter (the person may
   * approve on a phone instead), elsewhere opened at once where a browser can be. Returns a function
   * that withdraws the offer once the sign-in is over.
   */
  offerBrowser(url: string): () => void
  /** Something the user should know that does not stop the sign-in. */
  warn(message: string): void
  /** One line of information (why we chose a flow, where the login is kept). */
  notice(message: string): void
  /** Whether a person at a terminal answers confirm(). */
  readonly interactive: boolean
  /** A yes/no question to a person at a terminal (default yes); without one, the line is only shown and the answer is yes. */
  confirm(question: string): Promise<boolean>
  /** Waiting for the user (browser, device approval) starts and ends. */
  waiting(message: string): void
  doneWaiting(outcome: string): void
}
