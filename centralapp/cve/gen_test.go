package cve

import (
	"encoding/json"
	"fmt"
	"strings"
)

// genFeed generates an NVD feed of n records shaped as real ones are:
// about 1.5 KiB of description and metrics, and a configuration of a few
// ranged criteria over a spread of products (compact JSON; NVD's files
// are indented, which only makes the decoder's input longer).
func genFeed(n int) []byte {
	type rec = map[string]any
	vulns := make([]rec, n)
	for i := range vulns {
		prod := fmt.Sprintf("product%d", i%500)
		vulns[i] = rec{"cve": rec{
			"id":               fmt.Sprintf("CVE-2030-%05d", i+1),
			"sourceIdentifier": "cna@example.invalid",
			"published":        "2030-01-02T10:00:00.000",
			"lastModified":     "2030-01-03T10:00:00.000",
			"vulnStatus":       "Analyzed",
			"descriptions":     []rec{{"lang": "en", "value": strings.Repeat("A generated description of a flaw. ", 8)}},
			"metrics": rec{
				"cvssMetricV31": []rec{{"source": "nvd@nist.gov", "type": "Primary", "cvssData": rec{
					"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": 9.8,
					"baseSeverity": "CRITICAL", "attackVector": "NETWORK", "attackComplexity": "LOW"},
					"exploitabilityScore": 3.9, "impactScore": 5.9}},
				"cvssMetricV2": []rec{{"source": "nvd@nist.gov", "type": "Primary", "cvssData": rec{
					"version": "2.0", "vectorString": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "baseScore": 7.5},
					"baseSeverity": "HIGH"}},
			},
			"weaknesses": []rec{{"source": "nvd@nist.gov", "type": "Primary", "description": []rec{{"lang": "en", "value": "CWE-787"}}}},
			"configurations": []rec{{"nodes": []rec{{"operator": "OR", "negate": false, "cpeMatch": []rec{
				{"vulnerable": true, "criteria": "cpe:2.3:a:vendor" + fmt.Sprint(i%97) + ":" + prod + ":*:*:*:*:*:*:*:*",
					"versionStartIncluding": "1.0", "versionEndExcluding": fmt.Sprintf("2.%d", i%40),
					"matchCriteriaId": "6F0E4F6A-0000-4000-8000-000000000000"},
				{"vulnerable": true, "criteria": "cpe:2.3:a:vendor" + fmt.Sprint(i%97) + ":" + prod + ":3.0:*:*:*:*:*:*:*",
					"matchCriteriaId": "6F0E4F6A-0000-4000-8000-000000000001"},
			}}}}},
			"references": []rec{{"url": "https://example.invalid/advisory/" + fmt.Sprint(i), "source": "cna@example.invalid"}},
		}}
	}
	b, err := json.Marshal(rec{"resultsPerPage": n, "startIndex": 0, "totalResults": n, "format": "NVD_CVE",
		"version": "2.0", "timestamp": "2030-01-04T00:00:00.000", "vulnerabilities": vulns})
	if err != nil {
		panic(err)
	}
	return b
}
