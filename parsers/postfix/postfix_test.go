package postfix_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"

	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/postfix"
)

const corpus = "../../corpus/parsers/postfix"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, postfix.Info(), corpus, parsertest.Options{})
}

func FuzzPostfix(f *testing.F) {
	parsertest.Fuzz(f, postfix.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, postfix.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, postfix.Info(), corpus, true)
}

func TestSniff(t *testing.T) {
	for app, want := range map[string]bool{
		"postfix/smtpd": true, "postfix/postscreen": true, "postfix/dnsblog": true,
		"postfix/submission/smtpd": true, "postfix/smtps/smtpd": true, "postfix-out/smtpd": true,
		"postfix/cleanup": true,
		"postfix/qmgr":    false, "postfix/smtp": false, "postfix": false, "postfixadmin": false,
		"postfixadmin/smtpd": false, "smtpd": false, "": false,
	} {
		rec := detect.Record{App: []byte(app), Msg: []byte("NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 x")}
		if got := postfix.Sniff(&rec); got != want {
			t.Errorf("Sniff(app %q) = %v, want %v", app, got, want)
		}
	}
}
