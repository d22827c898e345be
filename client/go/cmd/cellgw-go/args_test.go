package main

import (
	"reflect"
	"testing"
	"time"
)

func TestParseArgsTakesFlagsAnywhereAsCellgwCliDoes(t *testing.T) {
	line, err := parseArgs([]string{"call", "--topic", "compute", "echo", "--cell=c1", `{"a": 1}`,
		"-x", "--context", `{"user_id": "u"}`})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"call", "echo", `{"a": 1}`, "-x"}; !reflect.DeepEqual(line.positional, want) {
		t.Errorf("positional = %q, want %q", line.positional, want)
	}
	want := map[string]string{"topic": "compute", "cell": "c1", "context": `{"user_id": "u"}`}
	if !reflect.DeepEqual(line.flags, want) {
		t.Errorf("flags = %q, want %q", line.flags, want)
	}
}

func TestParseArgsRejectsUnknownAndValuelessOptions(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"call", "--topc", "compute", "echo"}, "unknown option --topc"},
		{[]string{"call", "echo", "--topic"}, "--topic needs a value"},
		{[]string{"list-cells", "--verbose=1"}, "unknown option --verbose"},
	} {
		_, err := parseArgs(c.args)
		if _, ok := err.(usageError); !ok || err.Error() != c.want {
			t.Errorf("parseArgs(%q) error %v, want usage error %q", c.args, err, c.want)
		}
	}
}

func TestParseArgsHelpWins(t *testing.T) {
	line, err := parseArgs([]string{"call", "-h", "--bogus"})
	if err != nil || !line.help {
		t.Errorf("help not recognised: %+v, %v", line, err)
	}
}

func TestSecondsParsesDecimalsAndRejectsTheRest(t *testing.T) {
	line := &commandLine{flags: map[string]string{"deadline": "1.5", "timeout": "soon", "x": "inf"}}
	if d, ok, err := line.seconds("deadline"); err != nil || !ok || d != 1500*time.Millisecond {
		t.Errorf("seconds(1.5) = %v %v %v", d, ok, err)
	}
	if _, ok, err := line.seconds("absent"); err != nil || ok {
		t.Errorf("absent flag: %v %v", ok, err)
	}
	for _, name := range []string{"timeout", "x"} {
		if _, _, err := line.seconds(name); err == nil || err.Error() != "--"+name+": not a number of seconds" {
			t.Errorf("seconds(%s) error %v", name, err)
		}
	}
}
