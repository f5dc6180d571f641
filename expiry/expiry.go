// Package expiry e-mails users ahead of their password's expiry: the
// scheduled job, the choice of who gets which notice, the templates, SMTP
// delivery and the report. Each threshold is sent at most once per password,
// across restarts and replicas, because what was sent is recorded in the
// store; only the holder of the job's lease runs it.
package expiry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/internal/pwdexpiry"
	"github.com/dirbridge/dirbridge/store"
)

// noticeNamespace is the store.RecordOnce namespace of notices sent.
const noticeNamespace = "expiry-notice"

// DefaultWarnDays are the thresholds used when none are configured.
var DefaultWarnDays = []int{14, 7, 3, 1}

// Config says when and how notices go out.
type Config struct {
	// WarnDays are the thresholds in days before expiry, e.g. 14, 7, 3, 1.
	WarnDays []int
	// Location is the zone expiry dates and "days left" are counted in.
	Location *time.Location
	// ChangePasswordURL is put into the message for the user to follow.
	ChangePasswordURL string
	// From is the sender address.
	From string
	// RedirectTo, when set, receives every notice instead of the user (test mode).
	RedirectTo string
	// AdminSummaryTo receives a summary after each run that sent or failed anything.
	AdminSummaryTo []string
	// Retries is how many times a failed delivery is retried (with back-off).
	Retries int
	// RetryBase is the first back-off delay; it doubles each time.
	RetryBase time.Duration
}

// Notice kinds: a password about to expire (pwdLastSet + maxPwdAge, the
// constructed expiry, or the local policy), or the account itself (AD's
// accountExpires), after which no password helps.
const (
	KindPassword = "password"
	KindAccount  = "account"
)

// Notice is one message due (or sent) to one user.
type Notice struct {
	// Kind is KindPassword or KindAccount; empty means KindPassword.
	Kind        string    `json:"kind"`
	UserID      string    `json:"user_id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name,omitempty"`
	Email       string    `json:"email,omitempty"`
	Language    string    `json:"language,omitempty"`
	Source      string    `json:"source"`
	ExpiresAt   time.Time `json:"expires_at"`
	DaysLeft    int       `json:"days_left"`
	// Threshold is the configured warning day this notice answers.
	Threshold int `json:"threshold"`
	// To is where the message goes (the user, or RedirectTo in test mode).
	To string `json:"to,omitempty"`
}

// Skipped is a notice that was not sent, and why.
type Skipped struct {
	Notice
	Reason string `json:"reason"`
}

// Failed is a notice whose delivery failed after every retry.
type Failed struct {
	Notice
	Error string `json:"error"`
}

// Report is what one run did (or, for a dry run, would do).
type Report struct {
	RunAt   time.Time `json:"run_at"`
	DryRun  bool      `json:"dry_run"`
	Sent    []Notice  `json:"sent"`
	Failed  []Failed  `json:"failed"`
	Skipped []Skipped `json:"skipped"`
}

// Mailer delivers one message. The SMTP mailer is the production one.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Message is a rendered e-mail.
type Message struct {
	From    string
	To      []string
	Subject string
	Text    string
	HTML    string
}

// Job decides who is due and sends the notices.
type Job struct {
	cfg       Config
	store     store.Store
	mailer    Mailer
	templates *Templates
	log       *zap.Logger
	metrics   *Metrics
	sleep     func(ctx context.Context, d time.Duration) error
}

// NewJob builds the job. templates may be nil for the built-in ones;
// metrics may be nil.
func NewJob(cfg Config, st store.Store, mailer Mailer, templates *Templates, metrics *Metrics, log *zap.Logger) (*Job, error) {
	if len(cfg.WarnDays) == 0 {
		cfg.WarnDays = DefaultWarnDays
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 2 * time.Second
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if templates == nil {
		var err error
		if templates, err = LoadTemplates(""); err != nil {
			return nil, err
		}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Job{cfg: cfg, store: st, mailer: mailer, templates: templates, log: log.Named("expiry"), metrics: metrics, sleep: sleepCtx}, nil
}

// DaysLeft is pwdexpiry.DaysLeft: calendar days in loc, 0 = today,
// negative = expired. The sign-in warning and the e-mail must count alike.
func DaysLeft(expiresAt, now time.Time, loc *time.Location) int {
	return pwdexpiry.DaysLeft(expiresAt, now, loc)
}

// threshold returns the smallest configured warning day that daysLeft has
// reached, and false when none (too early, or already expired).
func threshold(warnDays []int, daysLeft int) (int, bool) {
	if daysLeft < 0 {
		return 0, false
	}
	best, ok := 0, false
	for _, d := range warnDays {
		if daysLeft <= d && (!ok || d < best) {
			best, ok = d, true
		}
	}
	return best, ok
}

// Upcoming lists active users whose password or account expires within
// days of now (already expired included), soonest first (`dirbridge expiry
// report`); Kind tells which.
func Upcoming(ctx context.Context, st store.Reader, now time.Time, days int, loc *time.Location) ([]Notice, error) {
	if loc == nil {
		loc = time.UTC
	}
	users, err := st.ListUsers(ctx, store.UserFilter{State: store.StateActive})
	if err != nil {
		return nil, fmt.Errorf("expiry: list users: %w", err)
	}
	var out []Notice
	for _, u := range users {
		if !u.PasswordNeverExpires && !u.PasswordExpiresAt.IsZero() {
			if left := DaysLeft(u.PasswordExpiresAt, now, loc); left <= days {
				out = append(out, noticeFor(u, left, 0))
			}
		}
		if !u.AccountExpiresAt.IsZero() {
			if left := DaysLeft(u.AccountExpiresAt, now, loc); left <= days {
				out = append(out, accountNoticeFor(u, left, 0))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ExpiresAt.Equal(out[j].ExpiresAt) {
			return out[i].ExpiresAt.Before(out[j].ExpiresAt)
		}
		if out[i].Username != out[j].Username {
			return out[i].Username < out[j].Username
		}
		return out[i].Kind < out[j].Kind
	})
	return out, nil
}

func noticeFor(u store.User, left, thr int) Notice {
	return Notice{
		Kind: KindPassword, UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email,
		Language: u.Language, Source: u.Source, ExpiresAt: u.PasswordExpiresAt.UTC(),
		DaysLeft: left, Threshold: thr,
	}
}

// accountNoticeFor is the notice that the account itself expires.
func accountNoticeFor(u store.User, left, thr int) Notice {
	n := noticeFor(u, left, thr)
	n.Kind, n.ExpiresAt = KindAccount, u.AccountExpiresAt.UTC()
	return n
}

// accountNoticeKey names one threshold of one account expiry date, apart
// from the password notices' keys: moving the date starts over.
func accountNoticeKey(u store.User, thr int) string {
	return KindAccount + "|" + u.ID + "|" + strconv.FormatInt(u.AccountExpiresAt.Unix(), 10) + "|" + strconv.Itoa(thr)
}

// due is one notice the job owes a user now, with its record key and how
// long the record is kept.
type due struct {
	n    Notice
	key  string
	keep time.Time
}

// dueFor lists the notices u has reached at now: at most one for the
// password and one for the account, each at the smallest threshold
// reached, so a run that missed earlier days sends one message, not a
// backlog.
func (j *Job) dueFor(u store.User, now time.Time) []due {
	var out []due
	// The records outlive the expiry by 90 days, so a threshold is never
	// sent twice for the same password or date.
	if !u.PasswordNeverExpires && !u.PasswordExpiresAt.IsZero() {
		left := DaysLeft(u.PasswordExpiresAt, now, j.cfg.Location)
		if thr, ok := threshold(j.cfg.WarnDays, left); ok {
			out = append(out, due{n: noticeFor(u, left, thr), key: noticeKey(u, thr), keep: u.PasswordExpiresAt.Add(90 * 24 * time.Hour)})
		}
	}
	if !u.AccountExpiresAt.IsZero() {
		left := DaysLeft(u.AccountExpiresAt, now, j.cfg.Location)
		if thr, ok := threshold(j.cfg.WarnDays, left); ok {
			out = append(out, due{n: accountNoticeFor(u, left, thr), key: accountNoticeKey(u, thr), keep: u.AccountExpiresAt.Add(90 * 24 * time.Hour)})
		}
	}
	return out
}

// noticeKey names one threshold of one password: a password change moves
// the expiry (and the change time), so the thresholds start over.
func noticeKey(u store.User, thr int) string {
	return u.ID + "|" + strconv.FormatInt(u.PasswordChangedAt.Unix(), 10) + "|" +
		strconv.FormatInt(u.PasswordExpiresAt.Unix(), 10) + "|" + strconv.Itoa(thr)
}

// Run sends every notice due at now. A dry run sends and records nothing
// but reports what would be sent. Delivery failures are retried with
// back-off and reported in Failed; they do not stop the run.
func (j *Job) Run(ctx context.Context, now time.Time, dryRun bool) (Report, error) {
	rep := Report{RunAt: now.UTC(), DryRun: dryRun, Sent: []Notice{}, Failed: []Failed{}, Skipped: []Skipped{}}
	users, err := j.store.ListUsers(ctx, store.UserFilter{State: store.StateActive})
	if err != nil {
		return rep, fmt.Errorf("expiry: list users: %w", err)
	}
	j.log.Info("expiry run started", zap.Int("active_users", len(users)), zap.Bool("dry_run", dryRun))
	for _, u := range users {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("expiry: %w", err)
		}
		for _, d := range j.dueFor(u, now) {
			if err := j.send(ctx, &rep, u, d, dryRun); err != nil {
				return rep, err
			}
		}
	}
	if !dryRun {
		j.summarise(ctx, rep)
	}
	j.log.Info("expiry run finished", zap.Int("sent", len(rep.Sent)), zap.Int("failed", len(rep.Failed)), zap.Int("skipped", len(rep.Skipped)))
	return rep, nil
}

// send delivers (or, dry, plans) one due notice and adds it to rep. Only
// a store failure or cancellation is returned; a delivery failure goes in
// rep.Failed.
func (j *Job) send(ctx context.Context, rep *Report, u store.User, d due, dryRun bool) error {
	n := d.n
	// Skipped in test mode too, so a redirected run shows what a real
	// run would do.
	if u.Email == "" {
		rep.Skipped = append(rep.Skipped, Skipped{Notice: n, Reason: "no e-mail address"})
		j.metrics.skipped("no_email")
		return nil
	}
	n.To = u.Email
	if j.cfg.RedirectTo != "" {
		n.To = j.cfg.RedirectTo
	}
	sent, err := j.alreadySent(ctx, d.key)
	if err != nil {
		return err
	}
	if dryRun {
		if sent {
			rep.Skipped = append(rep.Skipped, Skipped{Notice: n, Reason: "already sent"})
		} else {
			rep.Sent = append(rep.Sent, n)
		}
		return nil
	}
	if sent {
		return nil
	}
	msg, err := j.templates.Render(n, j.cfg)
	if err != nil {
		return fmt.Errorf("expiry: render %s notice for %s: %w", n.Kind, u.Username, err)
	}
	if err := j.deliver(ctx, msg); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("expiry: %w", ctx.Err())
		}
		rep.Failed = append(rep.Failed, Failed{Notice: n, Error: err.Error()})
		j.metrics.failed()
		j.log.Error("expiry notice not delivered", zap.String("user", u.Username), zap.String("kind", n.Kind), zap.Int("threshold", n.Threshold), zap.Error(err))
		return nil
	}
	if err := j.store.RecordOnce(ctx, noticeNamespace, d.key, d.keep); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("expiry: record notice for %s: %w", u.Username, err)
	}
	rep.Sent = append(rep.Sent, n)
	j.metrics.sent()
	return nil
}

// alreadySent reports whether the notice was sent. A RecordOnce whose
// expiry is already past conflicts only with a live record and leaves
// nothing live behind, so it answers the question without claiming the
// notice; the real record is written after delivery succeeds. A crash
// between delivery and that write can repeat one notice, never lose one.
func (j *Job) alreadySent(ctx context.Context, key string) (bool, error) {
	err := j.store.RecordOnce(ctx, noticeNamespace, key, time.Unix(0, 0))
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, store.ErrConflict):
		return true, nil
	default:
		return false, fmt.Errorf("expiry: check notice: %w", err)
	}
}

func (j *Job) deliver(ctx context.Context, m Message) error {
	var err error
	delay := j.cfg.RetryBase
	for attempt := 0; attempt <= j.cfg.Retries; attempt++ {
		if attempt > 0 {
			if serr := j.sleep(ctx, delay); serr != nil {
				return serr
			}
			delay *= 2
		}
		if err = j.mailer.Send(ctx, m); err == nil {
			return nil
		}
		j.log.Warn("expiry notice delivery failed", zap.Int("attempt", attempt+1), zap.Error(err))
	}
	return err
}

func (j *Job) summarise(ctx context.Context, rep Report) {
	if len(j.cfg.AdminSummaryTo) == 0 || (len(rep.Sent) == 0 && len(rep.Failed) == 0) {
		return
	}
	msg := Message{From: j.cfg.From, To: j.cfg.AdminSummaryTo, Subject: "dirbridge password-expiry notices", Text: SummaryText(rep)}
	if err := j.deliver(ctx, msg); err != nil {
		j.log.Error("expiry summary not delivered", zap.Error(err))
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
