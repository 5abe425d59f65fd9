package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/internal/httpapi"
)

// CookieName is the console's session cookie.
const CookieName = "fwgit_console"

// maxLoginBody caps the login form's body.
const maxLoginBody = 4 << 10

// sessionValue derives the cookie value from the token: a cookie that leaks
// (a shared browser profile, a proxy log) grants the console but does not
// reveal the token the read API accepts.
func sessionValue(token config.Secret) string {
	m := hmac.New(sha256.New, []byte(token.Reveal()))
	m.Write([]byte("fwgit console session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// authorized reports whether r may read the console: no token configured,
// the session cookie, or the read API's bearer token in the Authorization
// header (for scripts). Both compare in constant time.
func (c *console) authorized(r *http.Request) bool {
	if c.d.Token.IsZero() {
		return true
	}
	if ck, err := r.Cookie(CookieName); err == nil {
		if httpapi.SecretEqual(ck.Value, c.session) {
			return true
		}
	}
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return httpapi.SecretEqual(got, c.d.Token.Reveal())
	}
	return false
}

// deny sends a page request to the login form (remembering where it was
// going) and answers 401 to the live poll.
func (c *console) deny(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ui/live" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"code":"Unauthorized","message":"log in to the console"}` + "\n"))
		return
	}
	http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// crossOrigin refuses the console's POSTs from other origins: by
// Sec-Fetch-Site where the browser sends it, else by Origin against Host
// (an opaque "null" Origin, as from a sandboxed frame, is refused too).
// Requests with neither header (scripts, not browsers) pass.
var crossOrigin = http.NewCrossOriginProtection()

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

type loginView struct {
	Next   string
	Failed bool
	Off    bool
}

func (c *console) loginForm(w http.ResponseWriter, r *http.Request, p *page) error {
	p.template, p.Title, p.Nav = "login", "Log in", "login"
	p.Body = loginView{Next: safeNext(r.URL.Query().Get("next")), Off: c.d.Token.IsZero()}
	return nil
}

// login checks the token posted by the form and sets the session cookie.
// It is the console's only POST besides logout and changes nothing but the
// browser's cookie.
func (c *console) login(w http.ResponseWriter, r *http.Request, p *page) error {
	if c.d.Token.IsZero() {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return nil
	}
	// A cross-site form must not log a browser in (login CSRF).
	if crossOrigin.Check(r) != nil {
		return &httpError{http.StatusForbidden, "cross-origin login refused"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		return badRequest("unreadable login form")
	}
	next := safeNext(r.PostForm.Get("next"))
	tok := r.PostForm.Get("token")
	if !httpapi.SecretEqual(tok, c.d.Token.Reveal()) {
		p.template, p.Title, p.Nav, p.status = "login", "Log in", "login", http.StatusUnauthorized
		p.Body = loginView{Next: next, Failed: true}
		return nil
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: c.session, Path: "/ui/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (c *console) logout(w http.ResponseWriter, r *http.Request, p *page) error {
	// A cross-site form must not log a browser out.
	if crossOrigin.Check(r) != nil {
		return &httpError{http.StatusForbidden, "cross-origin logout refused"}
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/ui/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	return nil
}
