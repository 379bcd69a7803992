"""Settings from the environment (prefix BAUHINIA_): the only place the platform reads its environment.

The embedded defaults need no set-up, and those that name the issuer (licence, reserve accounts, bank, CDD
pepper) are demo values: a run that is not a demo (`bauhinia demo`, `console demo-data`, the tests, or
BAUHINIA_DEMO=1) refuses to start while any of them is unset or still a demo value (`unsafe_defaults`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that only a demo may run with: an issuer's own figures must be configured.
DEMO_VALUES: dict[str, str] = {
    "licence_number": "HKMA-SC-DEMO-001",
    "reserve_account_hkd": "012-875-001234-001",
    "reserve_account_cnh": "012-875-001234-002",
    "reserve_bank_bic": "HSBCHKHHXXX",
    "cdd_pepper": "bauhinia-embedded-cdd-pepper",
}
DEMO_CNH_APPROVAL_REFERENCE = "PBOC-CB-DEMO-2025-001"
cdd_pepper_length_min = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAUHINIA_", extra="ignore")

    # A demo run may use the demo values above; anything else refuses to start with them (see unsafe_defaults).
    demo: bool = False
    # Print tracebacks of unexpected CLI errors.
    debug: bool = False

    # Where the embedded SQLite database, keystores and generated files live.
    data_dir: Path = Path("var")
    # SQLAlchemy URL; empty means the embedded SQLite file under data_dir.
    database_url: str = ""
    # Ethereum JSON-RPC URL; empty means the in-process EVM.
    chain_rpc_url: str = ""
    # NATS server for events; empty means the in-process bus.
    nats_url: str = ""
    # `bauhinia run`: each job's schedule (job -> "every 5s" | "at 18:00 [business]" | "weekly fri 18:30" | "off";
    # defaults in entrypoints/service.py), how long a job's lease lives unrenewed (a dead replica's job is taken
    # over within it), and how often the scheduler looks for due jobs.
    jobs_schedule: dict[str, str] = {}
    jobs_lease_ttl_s: float = 30.0
    jobs_tick_s: float = 0.5
    # The bank's payment cut-off per currency (Hong Kong time, HH:MM): a payout instructed after it executes the
    # next business day. And how long before a redemption's payout deadline the deadline watcher warns.
    payout_cutoffs: dict[str, str] = {"CNH": "16:00", "HKD": "16:30"}
    # The message each rail's payout files are written in (reserve currency -> "pain.001.001.09" | "pain.001.001.03"
    # | "pacs.008.001.08", or "pain.001" / "pacs.008"), e.g. BAUHINIA_PAYOUT_MESSAGES='{"HKD": "pacs.008"}'. A rail
    # not named pays by pain.001.001.09; pacs.008 only where the bank takes FI-to-FI messages from the issuer.
    payout_messages: dict[str, str] = {}
    redemption_warning_before_s: int = 4 * 3600

    # --- API, events, observability (issue 7) ---
    # JWT signing: HS256 with api_jwt_secret (empty: a random secret per process, tokens die on restart), or
    # ES256 with a PEM private key file (the public key is derived from it).
    api_jwt_algorithm: str = "HS256"
    api_jwt_secret: str = ""
    api_jwt_private_key_file: Path | None = None
    api_jwt_issuer: str = "bauhinia"
    api_token_ttl_s: int = 900
    # Request bodies: checked before any parser and before authentication (413 / 400 problem+json past them).
    api_body_max_bytes: int = 1024 * 1024
    api_upload_body_max_bytes: int = 32 * 1024 * 1024  # bank files (POST /v1/bank-files)
    api_json_depth_max: int = 64
    # Manual ledger transfers are adjustments (domain/adjustments.py): a second person above this amount per
    # transfer (minor units; 1,000,000 = 10,000.00) or whenever the issuer's books or a customer are touched, and
    # no adjustment above the maker's role limit at all.
    ledger_adjustment_approval_above_minor: int = 1_000_000
    ledger_adjustment_limit_operator_minor: int = 10_000_000
    ledger_adjustment_limit_treasury_minor: int = 1_000_000_000
    ledger_adjustment_limit_admin_minor: int = 1_000_000_000
    # Bank files reach the books only from the bank's channel: with the bank's public key (PEM) every file needs
    # its detached signature (<name>.sig beside a dropped file, X-Bank-Signature on an upload); an upload by a
    # person is held until a second person approves it. Rejected uploads are kept in quarantine within a bound.
    bank_signing_public_key_file: Path | None = None
    bank_quarantine_bytes_max: int = 256 * 1024 * 1024
    # A dropped file that does not parse (or whose .sig is missing) is left in the inbox, not quarantined, until
    # neither it nor its signature has changed for this long (it may still be arriving); <name>.done marks a file
    # complete at once, *.part / *.tmp files are never read. 0: judge every file as soon as it is seen.
    bank_inbox_settle_s: float = 2.0
    # Clients created through the API get no secret: a one-time enrolment code is written here (one JSON file per
    # client, readable by the owner only), for the delivery channel to hand to the client's owner, never to the
    # admin who created it. Empty: <data_dir>/enrolments.
    enrolment_dir: Path | None = None
    enrolment_ttl_s: int = 72 * 3600
    # Who a state-changing CLI command acts as: a client of the credentials store and its secret (as the token
    # endpoint checks them). Unset in a demo: the built-in demo operator, which never approves its own request.
    operator_id: str = ""
    operator_secret: str = ""
    # Webhook endpoints as JSON: [{"name": "erp", "url": "https://...", "secret": "...", "topics": ["ledger.*"]}]
    webhooks_json: str = ""
    outbox_relay_interval_s: float = 1.0
    log_json: bool = True
    log_level: str = "INFO"

    # --- Issuance (issue 8) ---
    issuer_name: str = "Bauhinia Issuer Ltd"
    # The issuer's segregated reserve accounts at its bank, one per coin (account id as the bank writes it).
    reserve_account_hkd: str = "012-875-001234-001"
    reserve_account_cnh: str = "012-875-001234-002"
    reserve_bank_bic: str = "HSBCHKHHXXX"
    licence_number: str = "HKMA-SC-DEMO-001"
    # The secret that hashes customers' document numbers (CDD); at least 16 characters, never the demo one.
    cdd_pepper: str = ""
    # Screening of customers, payers and wallets inside the issuance flow: on; only a demo may turn it off.
    screen_issuance: bool = True
    # A folder of sanctions lists to use instead of the current version (`screening update-lists`).
    sanctions_dir: Path | None = None
    # JSON-RPC node: keystore password of the role keys, confirmations before a block counts as final, and the
    # licence / mainland approval written into contracts deployed there.
    chain_keystore_password: str = ""
    # Each role key's own password (issue 20): a folder with one file per role (`minter`, `pauser`, ... or
    # `<COIN>-<role>`), as a secrets manager mounts them, or a JSON object role -> password. Outside a demo no
    # role may fall back to the shared chain_keystore_password.
    chain_key_secrets_dir: Path | None = None
    chain_key_passwords: dict[str, str] = {}
    # 12 blocks on a node (no payout before its burn is this deep); the in-process chain always uses 0
    chain_confirmations: int = 12
    chain_licence_number: str = ""
    chain_cnh_approval_reference: str = ""
    # `screening update-lists`: each publisher's URL can be replaced (a mirror; tests point them at 127.0.0.1).
    list_url_un_consolidated: str = ""
    list_url_ofac_sdn: str = ""
    list_url_ofac_alt: str = ""
    list_url_ofac_add: str = ""
    list_url_ofac_sdn_comments: str = ""
    list_url_opensanctions: str = ""
    # Password of the trade CLI's keystore (bauhinia trade ... --keystore).
    trade_key_password: str = ""
    # Issuing an RMB-referenced coin outside the mainland needs this; empty: the CNH coin refuses to mint.
    cnh_mainland_approval_reference: str = ""
    subscription_fee_bps: int = 0
    redemption_fee_bps: int = 0
    coverage_buffer_bps: int = 0
    # Who posts the reserve figure the coin contract's guard checks each mint against (services/attester.py):
    # "separate", a process of its own (`bauhinia reserves attester`) holding only the reserve_attestor key, posting
    # the bank statement's figure checked against the ledger; "inline", the minting process posting the ledger's
    # figure (a demo only). Empty: inline in a demo, separate otherwise.
    reserve_attester: Literal["", "inline", "separate"] = ""
    # The attester refuses a bank statement that closes more than this many Hong Kong business days ago.
    attester_statement_max_business_days: int = 2
    # FX (services/fx.py): a loaded rate older than this many days is not used; the rules that convert then fall
    # back to a rate above any recent one (HK$1.10 per CNH), so a threshold applies early, never late.
    fx_rate_max_age_days: int = 5
    # Dev nodes only: pay the role keys' gas from the node's first unlocked account when deploying.
    chain_dev_funding: bool = False
    # scrypt cost of new role keystores; 0 = eth-account's strong default (tests lower it to stay fast).
    keystore_scrypt_n: int = 0
    # Refused attempts (401/403/429, idempotency conflicts, console CSRF and sign-in failures) are audited: at most
    # this many records per (client or address, reason) per minute; the rest are counted and noted in the next one.
    refusal_audit_per_minute: int = 10
    # Console sign-in: this many failures within the window (per client id and per address) lock it out.
    console_signin_failures_max: int = 5
    console_signin_window_s: int = 900
    console_signin_lockout_s: int = 900
    console_session_ttl_s: int = 8 * 3600
    # Crash tests only (bauhinia/faults.py): "point" or "point:N" kills the process with SIGKILL the Nth time it
    # reaches that named commit boundary. Empty (always, outside those tests): the fault points do nothing.
    fault_kill_at: str = ""

    def resolved_cdd_pepper(self) -> str:
        if self.cdd_pepper:
            return self.cdd_pepper
        if self.demo:
            return DEMO_VALUES["cdd_pepper"]
        from bauhinia.domain.errors import ConfigError

        raise ConfigError("BAUHINIA_CDD_PEPPER is unset: customers' document numbers cannot be hashed",
                          code="unsafe_defaults")

    def resolved_reserve_attester(self) -> str:
        return self.reserve_attester or ("inline" if self.demo else "separate")

    def unsafe_defaults(self) -> list[str]:
        """Each setting a real issuer must configure that is still unset or a demo value (empty in a demo)."""
        if self.demo:
            return []
        out = []
        for name, demo_value in DEMO_VALUES.items():
            value = str(getattr(self, name) or "")
            env = "BAUHINIA_" + name.upper()
            if not value:
                out.append(f"{env} is unset")
            elif value == demo_value:
                out.append(f"{env} is the demo value")
        if 0 < len(self.cdd_pepper) < cdd_pepper_length_min:
            out.append(f"BAUHINIA_CDD_PEPPER is shorter than {cdd_pepper_length_min} characters")
        if self.cnh_mainland_approval_reference == DEMO_CNH_APPROVAL_REFERENCE:
            out.append("BAUHINIA_CNH_MAINLAND_APPROVAL_REFERENCE is the demo value")
        if not self.screen_issuance:
            out.append("BAUHINIA_SCREEN_ISSUANCE is off (only a demo may mint without screening)")
        if self.reserve_attester == "inline":
            out.append("BAUHINIA_RESERVE_ATTESTER is inline (only a demo may let the minting process post its own "
                       "reserve figure)")
        if self.chain_rpc_url:
            shared = self.role_keys_without_own_secret()
            if shared:
                out.append("role keys without their own password (BAUHINIA_CHAIN_KEY_SECRETS_DIR/<role> or "
                           f"BAUHINIA_CHAIN_KEY_PASSWORDS): {', '.join(shared)}")
        return out

    def role_keys_without_own_secret(self) -> list[str]:
        """Chain roles whose keystore password would fall back to the shared one (adapters/chain/keys.py ROLES,
        and the settlement roles)."""
        roles = ("owner", "master_minter", "minter", "pauser", "blacklister", "rescuer", "reserve_attestor",
                 "relayer", "treasury", "agent")
        folder = self.chain_key_secrets_dir
        out = []
        for role in roles:
            names = [role, *(f"{c}-{role}" for c in ("BCNH", "BHKD", "SETTLEMENT"))]
            own_file = folder is not None and any((folder / n).is_file() for n in names)
            if not own_file and not self.chain_key_passwords.get(role):
                out.append(role)
        return out

    def require_safe(self) -> Settings:
        """Refuse to start a non-demo run on demo or missing values: one line naming each setting."""
        problems = self.unsafe_defaults()
        if problems:
            from bauhinia.domain.errors import ConfigError

            raise ConfigError("refusing to start outside a demo (set them, or BAUHINIA_DEMO=1 for a demo): "
                              + "; ".join(problems), code="unsafe_defaults")
        return self

    def bank_dir(self) -> Path:
        return self.data_dir / "bank"

    def sqlite_path(self) -> Path:
        return self.data_dir / "bauhinia.sqlite3"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path()}"
