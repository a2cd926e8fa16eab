"""The public-sector registry: which email domains belong to which organisation."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.organization import Organization, OrgDomain


@dataclass(frozen=True)
class RegistryRow:
    domain: str
    name: str
    kind: str
    code: str
    county: str


def shipped_rows() -> Iterator[RegistryRow]:
    """The registry that ships with delapost (see models/data/SOURCES.md)."""
    text = resources.files("models").joinpath("data/public_sector_orgs.csv").read_text("utf-8")
    for row in csv.DictReader(text.splitlines()):
        yield RegistryRow(
            domain=row["domain"].strip().lower(),
            name=row["name"].strip(),
            kind=row["kind"].strip(),
            code=row.get("code", "").strip(),
            county=row.get("county", "").strip(),
        )


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "org"


def _unique_slug(session: Session, name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    while session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def add_domain(session: Session, row: RegistryRow) -> OrgDomain:
    """Add (or re-point) one domain; organisations are shared by name and kind."""
    org = session.scalar(
        select(Organization).where(Organization.name == row.name, Organization.kind == row.kind)
    )
    if org is None:
        org = Organization(
            slug=_unique_slug(session, row.name),
            name=row.name,
            kind=row.kind,
            code=row.code,
            county=row.county,
        )
        session.add(org)
        session.flush()
    existing = session.get(OrgDomain, row.domain)
    if existing is None:
        existing = OrgDomain(domain=row.domain, organization_id=org.id)
        session.add(existing)
    else:
        existing.organization_id = org.id
    return existing


def load(session: Session, rows: Iterable[RegistryRow]) -> int:
    """Load rows, skipping domains already present; returns how many were added."""
    known = set(session.scalars(select(OrgDomain.domain)))
    added = 0
    for row in rows:
        if row.domain in known:
            continue
        add_domain(session, row)
        known.add(row.domain)
        added += 1
    return added


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().lower().rstrip(".")


def candidate_domains(domain: str) -> list[str]:
    """`a.b.goteborg.se` → [`a.b.goteborg.se`, `b.goteborg.se`, `goteborg.se`, `se`]."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def organization_for(session: Session, address: str) -> Organization | None:
    """The organisation an address belongs to, by the longest domain suffix on a label boundary."""
    candidates = candidate_domains(domain_of(address))
    rows = session.execute(
        select(OrgDomain.domain, OrgDomain.organization_id).where(OrgDomain.domain.in_(candidates))
    ).all()
    if not rows:
        return None
    _, org_id = max(rows, key=lambda r: len(r[0]))
    return session.get(Organization, org_id)
