package report

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cyberalarm/cyberalarm/centralapp/technique"
)

// services names the well-known ports that attackers probe, in words an
// office manager may recognise.
var services = map[uint16]string{
	7: "Echo", 19: "CharGen (amplification)", 20: "FTP data", 21: "FTP file transfer", 22: "SSH remote login",
	23: "Telnet remote login", 25: "SMTP mail", 53: "DNS", 69: "TFTP", 80: "Web (HTTP)", 81: "Web (alternative)",
	88: "Kerberos", 110: "POP3 mail", 111: "RPC portmapper", 119: "Usenet news", 123: "NTP time", 135: "Windows RPC",
	137: "NetBIOS names", 138: "NetBIOS datagrams", 139: "Windows file sharing (NetBIOS)", 143: "IMAP mail",
	161: "SNMP device management", 389: "LDAP directory", 443: "Web (HTTPS)", 445: "Windows file sharing (SMB)",
	465: "SMTP mail (TLS)", 500: "VPN (IKE)", 502: "Modbus industrial control", 514: "Syslog",
	587: "Mail submission", 623: "Server management (IPMI)", 636: "LDAP directory (TLS)", 873: "rsync",
	993: "IMAP mail (TLS)", 995: "POP3 mail (TLS)", 1080: "SOCKS proxy", 1194: "OpenVPN", 1433: "Microsoft SQL Server",
	1521: "Oracle database", 1723: "PPTP VPN", 1883: "MQTT (IoT)", 1900: "UPnP discovery (SSDP)",
	2049: "NFS file sharing", 2222: "SSH (alternative)", 2323: "Telnet (alternative)", 2375: "Docker API",
	3128: "Web proxy", 3306: "MySQL database", 3389: "Remote Desktop (RDP)", 3702: "WS-Discovery",
	4443: "Web (HTTPS alternative)", 4500: "VPN (IPsec NAT-T)", 5000: "UPnP / web admin", 5060: "SIP phones",
	5061: "SIP phones (TLS)", 5432: "PostgreSQL database", 5555: "Android debugging (ADB)", 5900: "VNC remote control",
	5985: "Windows remote management", 5986: "Windows remote management (TLS)", 6379: "Redis database",
	7547: "Router management (TR-069)", 8000: "Web (alternative)", 8080: "Web (alternative)",
	8081: "Web (alternative)", 8443: "Web (HTTPS alternative)", 8888: "Web (alternative)",
	9100: "Printers (raw printing)", 9200: "Elasticsearch", 10000: "Webmin", 11211: "Memcached",
	27017: "MongoDB database", 37215: "Huawei router management", 52869: "Realtek router UPnP",
}

// serviceName returns the service usually behind port, or "".
func serviceName(port uint16) string { return services[port] }

// advice is what to do about each kind of finding, by technique parent.
// The rule's own description says what was seen; this says what to do.
var advice = map[string]string{
	"T1046": "No action is needed for probes your firewall turned away. Check that only the services you mean to offer are open to the internet.",
	"T1071": "A computer of yours may be infected. Find it by its address (your IT contractor can), disconnect it from the network and have it checked or rebuilt.",
	"T1105": "Check the computer that downloaded the file with up-to-date anti-virus. If the download got through, treat the computer as infected until checked.",
	"T1110": "Make sure every account has a long, unique password and that remote logins use two-factor authentication. Limit the service to known addresses, or put it behind a VPN.",
	"T1133": "Remote access should not be open to the whole internet. Put it behind a VPN or allow only known addresses, and turn on two-factor authentication.",
	"T1189": "Keep browsers and their plug-ins up to date on every computer.",
	"T1190": "Keep websites, firewalls, VPNs and routers fully updated. Ask your IT contractor whether the software named here runs on your network; if it does and is not patched, patch it now.",
	"T1203": "Keep computers, browsers and office software updated, and check the named computer with anti-virus.",
	"T1204": "Remind staff not to open unexpected attachments, and check the computer involved with anti-virus.",
	"T1210": "Block file sharing and database ports at the firewall: they must never be reachable from the internet.",
	"T1496": "A computer of yours is mining cryptocurrency for someone else. Have it checked and cleaned.",
	"T1498": "A device of yours is answering requests it should not (or your connection is flooded). Turn off the exposed service (DNS, NTP, UPnP, memcached) towards the internet, or ask your internet provider for help with floods.",
	"T1499": "If the service slowed down or stopped, ask your internet provider about filtering. Keep the service updated.",
	"T1566": "Warn staff about this phishing run. Nobody should enter a password after following a link in an e-mail; report suspicious messages instead.",
	"T1595": "Scans are everyday internet noise. Keep internet-facing systems updated so that what the scanners look for is not there to find.",
	"spam":  "Your mail filter handled this. If spam still reaches inboxes, ask your mail provider to tighten filtering.",
}

// ruleAdvice is advice for rule families the technique does not pin
// down, by rule id prefix.
var ruleAdvice = []struct{ prefix, advice string }{
	{"exposure.", "Close this port at the firewall, or allow only the addresses that really need it (a VPN is better still). Then check the device behind it for signs of misuse."},
	{"indicator.source.allowed", "Block this address at the firewall (it is on the block list below), and check the device it reached."},
	{"indicator.source.", "No action is needed beyond keeping the block list loaded: your firewall already turned this known attacker away."},
	{"malware.email", "Your filter stopped this e-mail. Warn staff that such messages are circulating."},
	{"malware.download.blocked", "The download was stopped. Check the computer that tried it with anti-virus: something on it asked for the file."},
	{"malware.download.allowed", "Treat the computer that downloaded the file as infected: disconnect it and have it checked or rebuilt."},
}

// adviceFor returns the advice for a finding of rule id with the given
// techniques.
func adviceFor(id string, techs []string) string {
	for _, r := range ruleAdvice {
		if strings.HasPrefix(id, r.prefix) {
			return r.advice
		}
	}
	for _, t := range techs {
		if a, ok := advice[technique.Parent(t)]; ok {
			return a
		}
	}
	return "Ask your IT contractor to look at the addresses and devices named here."
}

// cveRE finds CVE ids as rules and signatures write them: CVE-2021-44228,
// cve_2021_41773 (rule ids), cve.2021.44228 (tags).
var cveRE = regexp.MustCompile(`(?i)\bcve[-. ](\d{4})[-. ](\d{4,7})\b`)

// cves appends the CVE ids in s, in the canonical form CVE-YYYY-NNNN,
// leaving out those already in dst.
func cves(dst []string, s string) []string {
	// \b does not split on '_', so a rule id such as
	// web.exploit.apache_cve_2021_41773 needs the underscores opened up.
	for _, m := range cveRE.FindAllStringSubmatch(strings.ReplaceAll(s, "_", " "), -1) {
		id := "CVE-" + m[1] + "-" + m[2]
		if !slices.Contains(dst, id) {
			dst = append(dst, id)
		}
	}
	return dst
}

// portLabel is a port with its service, e.g. "3389 (Remote Desktop (RDP))".
func portLabel(p uint16) string {
	if s := serviceName(p); s != "" {
		return strconv.Itoa(int(p)) + " · " + s
	}
	return strconv.Itoa(int(p))
}
