-- +goose Up
-- Times are INTEGER nanoseconds since 1970 UTC; 0 means unset.

-- One row per CVE record. A rejected record stays as a row without
-- configurations, so that an older feed imported later cannot bring it
-- back; it is never matched.
CREATE TABLE cves (
	id             TEXT PRIMARY KEY,
	status         TEXT NOT NULL,
	published      INTEGER NOT NULL,
	last_modified  INTEGER NOT NULL,
	description    TEXT NOT NULL,
	cvss           REAL NOT NULL,   -- 0 with cvss_version '' when unscored
	cvss_version   TEXT NOT NULL,
	vector         TEXT NOT NULL,
	severity       TEXT NOT NULL,
	configurations BLOB             -- JSON, NULL when there are none
) STRICT;

-- The vendor:product pairs of each record's vulnerable criteria: Match
-- reads only the records that name the banner's software.
CREATE TABLE cve_products (
	vendor  TEXT NOT NULL,
	product TEXT NOT NULL,
	cve_id  TEXT NOT NULL,
	PRIMARY KEY (vendor, product, cve_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX cve_products_cve ON cve_products (cve_id);

-- CISA's Known Exploited Vulnerabilities catalogue, as last imported.
CREATE TABLE kev (
	cve_id          TEXT PRIMARY KEY,
	date_added      INTEGER NOT NULL,
	due_date        INTEGER NOT NULL,
	required_action TEXT NOT NULL
) STRICT;

CREATE TABLE imports (
	id        INTEGER PRIMARY KEY,
	name      TEXT NOT NULL,
	kind      TEXT NOT NULL,      -- nvd or kev
	feed_time INTEGER NOT NULL,   -- the feed's own timestamp
	imported  INTEGER NOT NULL,
	records   INTEGER NOT NULL,
	added     INTEGER NOT NULL,
	updated   INTEGER NOT NULL,
	unchanged INTEGER NOT NULL,
	rejected  INTEGER NOT NULL,
	removed   INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE imports;
DROP TABLE kev;
DROP TABLE cve_products;
DROP TABLE cves;
