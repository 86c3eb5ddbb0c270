package input_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/cyberalarm/cyberalarm/collectorapp/input"
)

// A TCP input delivers batches of framed lines to a sink; the sink blocks
// while the pipeline is full, which slows the sender.
func Example() {
	in, err := input.NewTCP(input.TCPConfig{
		Common: input.Common{Name: "firewalls", Format: "auto", TimeZone: "Europe/Amsterdam"},
		Listen: "127.0.0.1:0",
	}, nil)
	if err != nil {
		panic(err)
	}
	got := make(chan string, 2)
	sink := func(ctx context.Context, b *input.Batch) error {
		defer b.Release() // the lines' bytes are reused after this
		for _, l := range b.Lines {
			got <- fmt.Sprintf("%s %s %s: %s", b.Input, b.Format, b.Loc, l.Data)
		}
		return nil
	}
	if err := in.Start(context.Background(), sink); err != nil {
		panic(err)
	}
	defer in.Close()

	conn, err := net.Dial("tcp", in.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "<13>Nov 27 10:00:00 fw1 app: newline framed\n")
	fmt.Fprint(conn, "36 <13>Nov 27 10:00:01 fw1 app: counted")
	for range 2 {
		select {
		case l := <-got:
			fmt.Println(l)
		case <-time.After(5 * time.Second):
			fmt.Println("timeout")
		}
	}
	// Output:
	// firewalls auto Europe/Amsterdam: <13>Nov 27 10:00:00 fw1 app: newline framed
	// firewalls auto Europe/Amsterdam: <13>Nov 27 10:00:01 fw1 app: counted
}
