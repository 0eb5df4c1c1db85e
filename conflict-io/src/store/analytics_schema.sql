-- Analytics schema of schema.sql (spec): the copy of the warehouse tables that tests load into
-- PostgreSQL. {{schema}} is replaced by the validated schema name, unquoted (analytics names
-- are folded by each server, schema.md §1). Idempotent; runs in one transaction.
CREATE SCHEMA IF NOT EXISTS {{schema}};
SET LOCAL search_path = {{schema}};

CREATE TABLE IF NOT EXISTS factvisitcallperformance_cr (
  "Visit Id" uuid PRIMARY KEY, "Application Visit Id" int8,
  "Visit Date" date,
  "Scheduled Start Time" timestamptz, "Scheduled End Time" timestamptz,
  "Visit Start Time" timestamptz, "Visit End Time" timestamptz,
  "Call In Time" timestamptz, "Call Out Time" timestamptz,
  "Call In GPS Coordinates" varchar(100), "Call Out GPS Coordinates" varchar(100),  -- 'lat,lon' or ','
  "Call Out Device Type" varchar(100),
  "Caregiver Id" uuid, "Application Caregiver Id" int8,
  "Provider Id" uuid, "Application Provider Id" int8,
  "Office Id" uuid, "Application Office Id" int8,
  "Patient Id" uuid, "Application Patient Id" int8,
  "Provider Patient Id" uuid, "Application Provider Patient Id" int8,
  "Payer Patient Id" uuid, "Application Payer Patient Id" int8,
  "Payer Id" uuid, "Application Payer Id" int8,
  "Contract Id" uuid, "Application Contract Id" int8,
  "Service Code Id" uuid,
  "Bill Type" varchar(50), "Billed" varchar(3), "Billed Hours" real, "Billed Rate" real,
  "Total Billed Amount" real, "Bill Rate Non-Billed" real, "Invoice Date" date,
  "Is Missed" bool, "Missed Visit Reason" varchar(500),
  "Visit Updated User Id" uuid,
  "Visit Updated Timestamp" timestamptz                    -- drives incremental runs
);
CREATE INDEX IF NOT EXISTS fvcp_date      ON factvisitcallperformance_cr ("Visit Date");
CREATE INDEX IF NOT EXISTS fvcp_updated   ON factvisitcallperformance_cr ("Visit Updated Timestamp");
CREATE INDEX IF NOT EXISTS fvcp_caregiver ON factvisitcallperformance_cr ("Caregiver Id", "Visit Date");

CREATE TABLE IF NOT EXISTS dimcaregiver (
  "Caregiver Id" uuid PRIMARY KEY, "Application Caregiver Id" int8,
  "Global Caregiver Id" uuid,                               -- PTO link only (provisional)
  "Caregiver Code" varchar(50), "Caregiver Firstname" varchar(50), "Caregiver Lastname" varchar(50),
  "Caregiver Fullname" varchar(101), "SSN" varchar(20), "Status" varchar(50)
);
CREATE TABLE IF NOT EXISTS dimprovider (
  "Provider Id" uuid PRIMARY KEY, "Application Provider Id" int8, "Provider Name" varchar(200),
  "Address State" varchar(100),                             -- cross-state fallback
  "Federal Tax Number" varchar(100), "Phone Number 1" varchar(30),
  "Is Active" bool, "Is Demo" bool
);
CREATE TABLE IF NOT EXISTS dimoffice (
  "Office Id" uuid PRIMARY KEY, "Application Office Id" int8, "Office Name" varchar(100), "Is Active" bool
);
CREATE TABLE IF NOT EXISTS dimpatient (
  "Patient Id" uuid PRIMARY KEY, "Application Patient Id" int8,
  "Patient Firstname" varchar(100), "Patient Lastname" varchar(100), "Patient Name" varchar(201),
  "Admission Id" varchar(500), "Medicaid Number" varchar(100), "Status" varchar(50)
);
CREATE TABLE IF NOT EXISTS dimpatientaddress (
  "Patient Address Id" uuid PRIMARY KEY, "Application Patient Address Id" int8,
  "Patient Id" uuid, "Application Patient Id" int8,
  "Address Type" varchar(50),                               -- must contain 'GPS' to be used
  "Primary Address" bool,
  "Address Line 1" varchar(500), "Address Line 2" varchar(100), "City" varchar(255),
  "County" varchar(100), "Address State" varchar(100), "Zip Code" varchar(100),
  "Latitude" real, "Longitude" real,                        -- location fallback
  "Application Created UTC Timestamp" timestamptz           -- newest primary GPS address wins
);
CREATE INDEX IF NOT EXISTS dpa_gps ON dimpatientaddress ("Patient Id", "Application Created UTC Timestamp" DESC)
  WHERE "Primary Address" AND "Address Type" LIKE '%GPS%';
CREATE TABLE IF NOT EXISTS dimpayer (
  "Payer Id" uuid PRIMARY KEY, "Application Payer Id" int8, "Payer Name" varchar(200),
  "Payer State" varchar(100), "Is Active" bool, "Is Demo" bool
);
CREATE TABLE IF NOT EXISTS dimcontract (
  "Contract Id" uuid PRIMARY KEY, "Application Contract Id" int8, "Contract Name" varchar(250), "Is Active" bool
);
CREATE TABLE IF NOT EXISTS dimservicecode (
  "Service Code Id" uuid PRIMARY KEY, "Application Service Code Id" int8, "Service Code" varchar(50)
);
CREATE TABLE IF NOT EXISTS dimuser (
  "User Id" uuid PRIMARY KEY, "User Fullname" varchar(200)
);

-- InService events
CREATE TABLE IF NOT EXISTS factcaregiverinservice (
  "Application Caregiver Inservice Id" int8 NOT NULL, "Environment" varchar(50) NOT NULL,
  "Caregiver Id" uuid, "Provider Id" uuid, "Office Id" uuid,
  "Inservice start date" timestamptz, "Inservice end date" timestamptz,
  PRIMARY KEY ("Application Caregiver Inservice Id", "Environment")
);
CREATE INDEX IF NOT EXISTS fcis_caregiver ON factcaregiverinservice ("Caregiver Id");

-- PTO absences (read only when the pto switch is on; off by default)
CREATE TABLE IF NOT EXISTS factcaregiverabsence (
  "Caregiver Vacation Id" int8 PRIMARY KEY,
  "Global Caregiver Id" uuid, "Provider Id" uuid,
  "Start Date" timestamptz, "End Date" timestamptz
);

