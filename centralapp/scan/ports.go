package scan

import "slices"

// portInfo is what central knows of a well-known port: the service usually
// behind it, how to talk to it first, and why an open one is a finding of
// its own.
type portInfo struct {
	Service string
	Speak   speak
	// Risk and Why make an open port a finding above Info: a database,
	// file share or remote console that should not face the internet.
	Risk Severity
	Why  string
}

// speak is how a service is first approached.
type speak int

const (
	speakUnknown speak = iota // listen for a greeting, then try TLS, then HTTP
	speakGreet                // the server talks first: SSH, FTP, SMTP, IMAP, POP3
	speakHTTP                 // plain HTTP
	speakTLS                  // TLS from the first byte (HTTPS, IMAPS, ...)
)

const (
	whyDatabase = "a database answering on the internet is one weak password away from a data breach"
	whyRemote   = "remote administration exposed to the internet is a favourite target of password guessing and ransomware crews"
	whyShare    = "file sharing protocols are not meant for the internet and are widely exploited"
	whyCleartxt = "it sends passwords in clear text"
	whyMgmt     = "device management interfaces should be reachable only from the inside"
)

// ports is central's own list of ports to connect-scan, chosen for what
// members of a threat-sharing network run and what attackers look for on
// them: web, mail, remote access, file sharing, databases, VPN and device
// management. It is deliberately short (every probe is a connection to a
// member's system) and written from the services' own registrations, not
// taken from another scanner's frequency list.
var ports = map[uint16]portInfo{
	21:    {"ftp", speakGreet, Medium, whyCleartxt},
	22:    {"ssh", speakGreet, Info, ""},
	23:    {"telnet", speakGreet, High, whyCleartxt},
	25:    {"smtp", speakGreet, Info, ""},
	53:    {"dns", speakUnknown, Info, ""},
	80:    {"http", speakHTTP, Info, ""},
	81:    {"http", speakHTTP, Info, ""},
	88:    {"kerberos", speakUnknown, Medium, whyMgmt},
	110:   {"pop3", speakGreet, Low, whyCleartxt},
	111:   {"rpcbind", speakUnknown, Medium, whyShare},
	135:   {"msrpc", speakUnknown, High, whyShare},
	139:   {"netbios-ssn", speakUnknown, High, whyShare},
	143:   {"imap", speakGreet, Low, whyCleartxt},
	389:   {"ldap", speakUnknown, High, whyMgmt},
	443:   {"https", speakTLS, Info, ""},
	445:   {"smb", speakUnknown, High, whyShare},
	465:   {"smtps", speakTLS, Info, ""},
	500:   {"isakmp", speakUnknown, Info, ""},
	512:   {"rexec", speakUnknown, High, whyCleartxt},
	513:   {"rlogin", speakUnknown, High, whyCleartxt},
	514:   {"rsh", speakUnknown, High, whyCleartxt},
	515:   {"printer", speakUnknown, Medium, whyMgmt},
	548:   {"afp", speakUnknown, High, whyShare},
	554:   {"rtsp", speakUnknown, Medium, whyMgmt},
	587:   {"submission", speakGreet, Info, ""},
	631:   {"ipp", speakHTTP, Medium, whyMgmt},
	636:   {"ldaps", speakTLS, High, whyMgmt},
	873:   {"rsync", speakGreet, High, whyShare},
	993:   {"imaps", speakTLS, Info, ""},
	995:   {"pop3s", speakTLS, Info, ""},
	1080:  {"socks", speakUnknown, High, "an open proxy lets anyone relay attacks through your address"},
	1194:  {"openvpn", speakUnknown, Info, ""},
	1433:  {"mssql", speakUnknown, High, whyDatabase},
	1521:  {"oracle", speakUnknown, High, whyDatabase},
	1723:  {"pptp", speakUnknown, Medium, "PPTP's encryption is broken; use a modern VPN"},
	1883:  {"mqtt", speakUnknown, High, whyMgmt},
	2049:  {"nfs", speakUnknown, High, whyShare},
	2082:  {"cpanel", speakHTTP, Medium, whyMgmt},
	2083:  {"cpanel-tls", speakTLS, Medium, whyMgmt},
	2375:  {"docker", speakHTTP, Critical, "an unauthenticated Docker API gives full control of the host"},
	2376:  {"docker-tls", speakTLS, High, whyMgmt},
	3000:  {"http", speakHTTP, Info, ""},
	3128:  {"http-proxy", speakHTTP, Medium, "an open proxy lets anyone relay attacks through your address"},
	3306:  {"mysql", speakGreet, High, whyDatabase},
	3389:  {"rdp", speakUnknown, High, whyRemote},
	4443:  {"https", speakTLS, Info, ""},
	4786:  {"cisco-smart-install", speakUnknown, Critical, "Cisco Smart Install lets anyone rewrite the switch's configuration"},
	5000:  {"http", speakHTTP, Info, ""},
	5060:  {"sip", speakUnknown, Medium, "SIP exposed to the internet attracts toll fraud"},
	5432:  {"postgresql", speakUnknown, High, whyDatabase},
	5601:  {"kibana", speakHTTP, High, whyDatabase},
	5900:  {"vnc", speakGreet, High, whyRemote},
	5985:  {"winrm", speakHTTP, High, whyRemote},
	5986:  {"winrm-tls", speakTLS, High, whyRemote},
	6379:  {"redis", speakUnknown, Critical, whyDatabase},
	6443:  {"kubernetes", speakTLS, High, whyMgmt},
	7001:  {"weblogic", speakHTTP, Medium, whyMgmt},
	8000:  {"http", speakHTTP, Info, ""},
	8008:  {"http", speakHTTP, Info, ""},
	8080:  {"http", speakHTTP, Info, ""},
	8081:  {"http", speakHTTP, Info, ""},
	8088:  {"http", speakHTTP, Info, ""},
	8443:  {"https", speakTLS, Info, ""},
	8888:  {"http", speakHTTP, Info, ""},
	9000:  {"http", speakHTTP, Info, ""},
	9090:  {"http", speakHTTP, Info, ""},
	9100:  {"jetdirect", speakUnknown, Medium, whyMgmt},
	9200:  {"elasticsearch", speakHTTP, Critical, whyDatabase},
	9443:  {"https", speakTLS, Info, ""},
	10000: {"webmin", speakTLS, High, whyMgmt},
	10443: {"https", speakTLS, Info, ""},
	11211: {"memcached", speakUnknown, High, whyDatabase},
	27017: {"mongodb", speakUnknown, Critical, whyDatabase},
	50000: {"sap", speakUnknown, High, whyMgmt},
}

// TopPorts returns the built-in port list, in ascending order.
func TopPorts() []uint16 {
	out := make([]uint16, 0, len(ports))
	for p := range ports {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
