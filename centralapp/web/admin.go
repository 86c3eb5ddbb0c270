package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// adminOnly lets admins through and answers 403 to everyone else.
func adminOnly(h handler) handler {
	return func(rw http.ResponseWriter, r *http.Request, req *request) error {
		if req.who.Role != auth.RoleAdmin {
			return errForbidden
		}
		return h(rw, r, req)
	}
}

// memberForm is the add-member form, as entered.
type memberForm struct {
	ID, Name, Sector, Region, TimeZone string
}

type manageView struct {
	Members    []managedMember
	Form       memberForm
	Errors     map[string]string // by field
	TokenHours int
}

type managedMember struct {
	store.Member
	Collectors []store.Collector
}

func (w *Web) manage(rw http.ResponseWriter, r *http.Request, req *request) error {
	return w.renderManage(rw, r, req, http.StatusOK, memberForm{TimeZone: "Europe/London"}, nil)
}

func (w *Web) renderManage(rw http.ResponseWriter, r *http.Request, req *request, status int, f memberForm, errs map[string]string) error {
	ctx := r.Context()
	ms, err := w.store.Members(ctx)
	if err != nil {
		return err
	}
	cs, err := w.store.Collectors(ctx, "")
	if err != nil {
		return err
	}
	v := manageView{Form: f, Errors: errs, TokenHours: int(w.tokenTTL / time.Hour)}
	at := map[string]int{}
	for _, m := range ms {
		at[m.ID] = len(v.Members)
		v.Members = append(v.Members, managedMember{Member: m})
	}
	for _, c := range cs {
		if i, ok := at[c.MemberID]; ok {
			v.Members[i].Collectors = append(v.Members[i].Collectors, c)
		}
	}
	w.render(rw, r, status, "manage", newView(req, "Manage members", "manage", v))
	return nil
}

// check returns the form's problems by field; none for a good form.
func (f memberForm) check() map[string]string {
	errs := map[string]string{}
	if !store.ValidMemberID(f.ID) {
		errs["id"] = "Use 1 to 64 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit."
	}
	if f.Name == "" {
		errs["name"] = "Enter the organisation's name."
	} else if utf8.RuneCountInString(f.Name) > 200 {
		errs["name"] = "Use at most 200 characters."
	}
	if utf8.RuneCountInString(f.Sector) > 64 {
		errs["sector"] = "Use at most 64 characters."
	}
	if utf8.RuneCountInString(f.Region) > 64 {
		errs["region"] = "Use at most 64 characters."
	}
	if f.TimeZone == "" || strings.EqualFold(f.TimeZone, "local") {
		errs["timezone"] = "Enter an IANA time zone, such as Europe/London."
	} else if _, err := time.LoadLocation(f.TimeZone); err != nil {
		errs["timezone"] = "This is not an IANA time zone; try one such as Europe/London."
	}
	return errs
}

type tokenView struct {
	Member  store.Member
	Token   string
	Command string
	Expires time.Time
	New     bool // the member was just added
}

func (w *Web) addMember(rw http.ResponseWriter, r *http.Request, req *request) error {
	pf := r.PostForm
	f := memberForm{
		ID: strings.TrimSpace(pf.Get("id")), Name: strings.TrimSpace(pf.Get("name")),
		Sector: strings.TrimSpace(pf.Get("sector")), Region: strings.TrimSpace(pf.Get("region")),
		TimeZone: strings.TrimSpace(pf.Get("timezone")),
	}
	errs := f.check()
	if len(errs) == 0 {
		// Service.AddMember issues a token for a member that exists;
		// here adding one twice is a mistake to show.
		switch _, err := w.store.Member(r.Context(), f.ID); {
		case err == nil:
			errs["id"] = "A member with this id exists already; issue a token for it below."
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	if len(errs) > 0 {
		return w.renderManage(rw, r, req, http.StatusBadRequest, f, errs)
	}
	m := store.Member{ID: f.ID, Name: f.Name, Sector: f.Sector, Region: f.Region, TimeZone: f.TimeZone, Created: w.now().UTC()}
	token, err := w.admin.AddMember(r.Context(), m, w.tokenTTL)
	if err != nil {
		return err
	}
	w.log.Info("member added from the dashboard", "member", m.ID, "account", req.who.Account)
	w.renderToken(rw, r, req, m, token, true)
	return nil
}

func (w *Web) reissueToken(rw http.ResponseWriter, r *http.Request, req *request) error {
	m, err := w.store.Member(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	token, err := w.admin.NewEnrolToken(r.Context(), m.ID, w.tokenTTL)
	if err != nil {
		return err
	}
	w.log.Info("enrolment token issued from the dashboard", "member", m.ID, "account", req.who.Account)
	w.renderToken(rw, r, req, m, token, false)
	return nil
}

// renderToken shows a one-time token. The page is the only place it is
// ever shown: it is answered to the POST, never stored, and not cached.
func (w *Web) renderToken(rw http.ResponseWriter, r *http.Request, req *request, m store.Member, token string, added bool) {
	v := tokenView{
		Member: m, Token: token, New: added, Expires: w.now().Add(w.tokenTTL),
		Command: "cyberalarm-collector enrol --config collector.yaml --central https://" + r.Host +
			" --token " + token + " --ca-sha256 " + w.caFP,
	}
	w.render(rw, r, http.StatusOK, "token", newView(req, "Enrolment token for "+m.Name, "manage", v))
}

func (w *Web) revokeCollector(rw http.ResponseWriter, r *http.Request, req *request) error {
	id := r.PathValue("id")
	c, err := w.store.Collector(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if err := w.admin.RevokeCollector(r.Context(), id); err != nil {
		return err
	}
	w.log.Info("collector revoked from the dashboard", "collector", id, "member", c.MemberID, "account", req.who.Account)
	http.Redirect(rw, r, "/admin/members#member-"+url.PathEscape(c.MemberID), http.StatusSeeOther)
	return nil
}
