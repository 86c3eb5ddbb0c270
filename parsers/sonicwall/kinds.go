package sonicwall

import "github.com/cyberalarm/cyberalarm/detect"

// kind is what a message id means for the event.
type kind uint8

const (
	kUnknown  kind = iota
	kSkip          // not a security event
	kNetDeny       // packet or connection dropped
	kNetAllow      // connection opened, closed or allowed
	kWebDeny       // Content Filter block
	kWebAllow      // web site hit / allowed
	kWebInfo       // Content Filter alert
	kMailDeny      // RBL-listed SMTP server dropped
	kIDSInfo       // attack, scan or flood detected
	kIDSBlock      // attack dropped, attacker blacklisted
	kSigInfo       // IPS/IDP/Anti-Spyware/App Control detection alert: msg names the signature
	kSigBlock      // ... prevention alert
	kGAV           // Gateway Anti-Virus alert: msg names the virus
	kAuthOK        // login allowed
	kAuthFail      // login denied
)

func (k kind) category() string {
	switch k {
	case kNetDeny, kNetAllow:
		return detect.CategoryNetwork
	case kWebDeny, kWebAllow, kWebInfo:
		return detect.CategoryWeb
	case kMailDeny:
		return detect.CategoryEmail
	case kIDSInfo, kIDSBlock, kSigInfo, kSigBlock:
		return detect.CategoryIntrusionDetection
	case kGAV:
		return detect.CategoryMalware
	case kAuthOK, kAuthFail:
		return detect.CategoryAuthentication
	}
	return ""
}

// signed reports whether the message names a signature or virus.
func (k kind) signed() bool { return k == kSigInfo || k == kSigBlock || k == kGAV }

// kindOf maps a message id (SonicOS Log Events Reference Guide, 6.5 and
// 7.0) to its kind; kUnknown for ids it does not list.
func kindOf(m int) kind {
	switch m {
	// Network: drops.
	case 36, // TCP packet / connection dropped
		37,       // UDP packet dropped
		38,       // ICMP packet dropped due to policy
		41,       // unknown protocol dropped
		173,      // TCP connection from LAN denied
		174,      // UDP packet from LAN dropped
		175,      // ICMP packet from LAN dropped
		347,      // drop clear packet on IPsec-only port
		428,      // source routed IP packet dropped
		523,      // ICMP packet dropped, no match
		524,      // web access request dropped
		590,      // IP type packet dropped
		646, 647, // connection limit for source / destination reached
		883, 884, 885, 886, 1448, 1449, // checksum errors
		1198, 1199, 1474, 1475, // Geo-IP initiator / responder blocked
		1233,       // unhandled link-local or multicast IPv6 packet dropped
		1254, 1257, // ICMPv6 dropped
		1304, // dropped due to NDPP rules
		1573: // IPv6 traffic disabled
		return kNetDeny
	// Network: connections.
	case 98, // connection opened
		537,      // connection closed
		526,      // web management request allowed
		597, 598, // ICMP packet allowed
		1255, 1256: // ICMPv6 allowed
		return kNetAllow

	// Content Filter.
	case 14: // web site access denied
		return kWebDeny
	case 16, // web site access allowed
		97: // web site hit
		return kWebAllow
	case 1461: // CFS alert
		return kWebInfo

	// RBL filter.
	case 797, 798:
		return kMailDeny

	// Signature alerts.
	case 608, // IPS detection alert
		789,  // IDP detection alert
		795,  // Anti-Spyware detection alert
		793,  // Application Firewall alert
		1154: // Application Control detection alert
		return kSigInfo
	case 609, // IPS prevention alert
		790,  // IDP prevention alert
		794,  // Anti-Spyware prevention alert
		1155: // Application Control prevention alert
		return kSigBlock
	case 809: // Gateway Anti-Virus alert
		return kGAV

	// Attacks, scans and floods detected.
	case 25, // possible SYN flood
		82, 83, // possible / probable port scan
		177, 178, 179, // TCP FIN, Xmas, NULL scans
		546, 548, // rogue AP, association flood
		859, 860, 866, // SYN flood
		897,      // invalid SYN flood cookie
		904, 905, // RST / FIN flood
		1098,       // DNS rebind attack detected
		1213, 1214, // UDP / ICMP flood
		1316,       // ARP attack
		1363,       // WLAN flood
		1369, 1371, // TCP flood
		1450, 1451, 1452, // UDPv6 / ICMPv6 flood, half-open connections
		1471, // external IDS
		1593: // DNS tunnel attack
		return kIDSInfo
	// Attacks dropped, attackers blacklisted.
	case 22, // ping of death
		23,                 // IP spoof
		27,                 // land attack
		81,                 // smurf amplification attack
		229,                // DHCP relay IP spoof
		267,                // TCP Xmas tree
		446, 527, 528, 538, // FTP bounce and spoof attacks
		580,                                // TCP SYN/FIN packet
		606,                                // spank attack
		864,                                // SYN-flooding machine blacklisted
		898,                                // RST-flooding machine blacklisted
		901,                                // FIN-flooding machine blacklisted
		1099,                               // DNS rebind attack blocked
		1180,                               // DoS protection on WAN begins
		1200, 1201, 1476, 1477, 1518, 1519, // botnet initiator / responder blocked
		1366,                   // TCP-flooding machine blacklisted
		1373, 1374, 1375, 1376, // fragment attacks, Nestea/Teardrop
		1387: // TCP null flag
		return kIDSBlock

	// Logins.
	case 29, // administrator login allowed
		31,       // user login from an internal zone allowed
		139,      // XAUTH succeeded
		199,      // CLI administrator login allowed
		235,      // VPN zone administrator login allowed
		236,      // WAN zone administrator login allowed
		237,      // VPN zone remote user login allowed
		238,      // WAN zone remote user login allowed
		318, 319, // L2TP server authentication success
		1080: // SSL VPN zone remote user login allowed
		return kAuthOK
	case 30, // administrator login denied due to bad credentials
		32, 33, // user login denied due to bad credentials
		34,                 // pending login timed out
		35,                 // administrator login denied, logins disabled from this interface
		67,                 // IPsec authentication failed
		140,                // XAUTH failed
		200,                // CLI administrator login denied due to bad credentials
		243, 244, 245, 246, // RADIUS failures, wrong location
		311, 312, 344, // L2TP authentication failures
		329, // user login failure rate exceeded
		486, 549, 557, 583,
		744, 745, 746, 747, 748, 749, 750, 751, 753, 754, 755, 756, 757, // RADIUS / LDAP failures
		759, 986, 987, 988, 989, 990, 991,
		1035, 1048, 1117, 1118, 1119, 1120, 1121, 1122, 1123, 1243,
		1572, 1585, 1655, 1672:
		return kAuthFail

	// Logouts and sessions.
	case 24, 261, 262, 263, 264, 265, 520, 550, 551, 564, 994, 995, 996, 997, 998, 1008, 1124:
		return kSkip
	}
	return kUnknown
}

// kindOfText classifies a message by its documented text, for lines
// without a message id or with one this parser does not list.
func kindOfText(msg []byte) kind {
	switch {
	case len(msg) == 0:
		return kUnknown
	case containsFold(msg, "prevention alert"):
		if containsFold(msg, "ips ") || containsFold(msg, "idp ") || containsFold(msg, "anti-spyware") || containsFold(msg, "application control") {
			return kSigBlock
		}
	case containsFold(msg, "detection alert"), containsFold(msg, "application firewall alert"):
		return kSigInfo
	case containsFold(msg, "anti-virus alert"):
		return kGAV
	case containsFold(msg, "port scan"), containsFold(msg, "scan detected"), containsFold(msg, "flood"),
		containsFold(msg, "attack detected"):
		return kIDSInfo
	case containsFold(msg, "attack dropped"), containsFold(msg, "attack blocked"), containsFold(msg, "spoof dropped"),
		containsFold(msg, "spoof detected"), containsFold(msg, "botnet"), containsFold(msg, "blacklisted"):
		return kIDSBlock
	case containsFold(msg, "web site access denied"), containsFold(msg, "web site blocked"):
		return kWebDeny
	case containsFold(msg, "web site hit"), containsFold(msg, "web site access allowed"):
		return kWebAllow
	case containsFold(msg, "logged out"), containsFold(msg, "session started"), containsFold(msg, "session ended"):
		return kSkip
	case containsFold(msg, "login denied"), containsFold(msg, "login failed"), containsFold(msg, "login failure"),
		containsFold(msg, "authentication failed"), containsFold(msg, "authentication failure"), containsFold(msg, "bad credentials"):
		return kAuthFail
	case containsFold(msg, "login allowed"), containsFold(msg, "login succeeded"), containsFold(msg, "login successful"),
		containsFold(msg, "authentication success"):
		return kAuthOK
	case containsFold(msg, "packet dropped"), containsFold(msg, "connection dropped"), containsFold(msg, "packet is dropped"),
		containsFold(msg, "connection denied"), containsFold(msg, "request dropped"):
		return kNetDeny
	case containsFold(msg, "connection opened"), containsFold(msg, "connection closed"), containsFold(msg, "packet allowed"):
		return kNetAllow
	}
	return kUnknown
}
