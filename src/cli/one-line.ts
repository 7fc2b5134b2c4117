// A value from an issuer or a stored file (a name, an email, a subject, an issuer, a client id, a
// label, a scope) goes into our output on one line, whatever it holds: `Alice\n    Issuer: https://…`
// must not print a line that looks like ours (docs/security.md, "One line per value").
export {oneLineSafe as oneLine} from '../safe-text.js'
