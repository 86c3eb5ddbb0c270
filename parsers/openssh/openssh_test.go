package openssh_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"

	"github.com/cyberalarm/cyberalarm/parsers/openssh"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/sshd"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, openssh.Info(), corpus, parsertest.Options{})
}

func FuzzSSHD(f *testing.F) {
	parsertest.Fuzz(f, openssh.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, openssh.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, openssh.Info(), corpus, true)
}

func TestSniff(t *testing.T) {
	for app, want := range map[string]bool{
		"sshd": true, "sshd-session": true, "sshd-auth": true, "/usr/sbin/sshd": true,
		"sshd-keygen": false, "ssh": false, "sshguard": false, "sudo": false, "": false,
	} {
		rec := detect.Record{App: []byte(app), Msg: []byte("Failed password for root from 192.0.2.1 port 22 ssh2")}
		if got := openssh.Sniff(&rec); got != want {
			t.Errorf("Sniff(app %q) = %v, want %v", app, got, want)
		}
	}
}

// A new user name costs one allocation; a name seen before costs none.
func TestUserNameAllocs(t *testing.T) {
	p := openssh.Info().New()
	var ev detect.Event
	rec := detect.Record{App: []byte("sshd"), Msg: []byte("Invalid user oracle from 203.0.113.5 port 4022")}
	if err := p.Parse(&rec, &ev); err != nil || ev.UserName != "oracle" {
		t.Fatalf("Parse: %v, user %q", err, ev.UserName)
	}
	if n := testing.AllocsPerRun(100, func() {
		ev.Reset()
		_ = p.Parse(&rec, &ev)
	}); n != 0 {
		t.Errorf("repeated user name: %v allocs, want 0", n)
	}
}
