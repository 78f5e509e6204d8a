# test_encryption_drivers.py - node-postgres and SQLAlchemy's ORM through pgseal with an encryption schema.
import datetime as dt
import os
import shutil
import subprocess
import uuid
from decimal import Decimal

import pytest

import harness
from enc_harness import canary, enc, new_id  # noqa: F401

NODE_DIR = os.path.join(harness.REPO, "tests", "node")


def run_node(enc, prefix, id_base):
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "pg")):
        pytest.fail("tests/node/node_modules/pg missing: run npm install in tests/node")
    e = dict(os.environ, PGSEAL_ENC_PORT=str(enc.proxy.port), PGSEAL_UP_PORT=str(enc.pg.port), PGSEAL_PREFIX=prefix,
             PGSEAL_ID_BASE=str(id_base), PGSEAL_DB=harness.DB)
    r = subprocess.run([node, "--test", "encryption.test.js"], cwd=NODE_DIR, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace")


def test_node_postgres(enc):
    prefix = canary("node")
    rc, out = run_node(enc, prefix, 5_000_000)
    print(out)
    assert rc == 0 and "# fail 0" in out and "# pass 4" in out, out


# ---- SQLAlchemy ORM (1.4, psycopg2 dialect) ---------------------------------------------

def sqlalchemy_workload(enc, tag):
    """An ORM session through pgseal: add, query by encrypted columns, update, delete. Returns the values written."""
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import JSONB, UUID
    from sqlalchemy.orm import Session, declarative_base

    Base = declarative_base()

    class Person(Base):
        __tablename__ = "people"
        id = sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
        email = sa.Column(sa.Text)
        name = sa.Column(sa.Text)
        phone = sa.Column(sa.String(64))
        note = sa.Column(sa.Text)

    class Typed(Base):
        __tablename__ = "typed"
        id = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
        c_int8 = sa.Column(sa.BigInteger)
        c_numeric = sa.Column(sa.Numeric)
        c_date = sa.Column(sa.Date)
        c_tstz = sa.Column(sa.DateTime(timezone=True))
        c_bool = sa.Column(sa.Boolean)
        c_uuid = sa.Column(UUID(as_uuid=True))
        c_jsonb = sa.Column(JSONB)
        c_bytea = sa.Column(sa.LargeBinary)
        plain = sa.Column(sa.Text)

    url = "postgresql+psycopg2://trust_user@127.0.0.1:%d/%s?sslmode=disable" % (enc.proxy.port, harness.DB)
    engine = sa.create_engine(url, future=True)
    written = []
    try:
        ids = [new_id() for _ in range(4)]
        emails = [canary(tag) for _ in range(2)]
        written += emails
        with Session(engine) as s:
            s.add_all([Person(id=ids[0], email=emails[0], name="Ada", phone="1"),
                       Person(id=ids[1], email=emails[0], name="Bea", phone=None),
                       Person(id=ids[2], email=emails[1], name=None, phone="3"),
                       Person(id=ids[3], email=None, name="Dee", note="n")])
            s.commit()
        with Session(engine) as s:
            got = s.query(Person).filter(Person.email == emails[0]).order_by(Person.id).all()
            assert [(p.id, p.name) for p in got] == [(ids[0], "Ada"), (ids[1], "Bea")]
            assert s.query(sa.func.count(Person.id)).filter(Person.email.in_(emails)).scalar() == 3
            assert s.query(Person).filter_by(email=emails[1]).one().phone == "3"
            assert s.query(sa.func.count(Person.id)).filter(Person.id.in_(ids), Person.email.is_(None)).scalar() == 1
            assert s.query(sa.func.count(Person.id)).filter(Person.id.in_(ids), Person.email != emails[0]).scalar() == 1
            p = s.get(Person, ids[3])
            assert (p.email, p.name, p.note) == (None, "Dee", "n")
            new = canary(tag)
            written.append(new)
            p.email = new
            p.name = "Dee2"
            s.delete(s.get(Person, ids[1]))
            s.commit()
        with Session(engine) as s:
            assert s.execute(sa.select(Person.name).where(Person.email == new)).scalars().all() == ["Dee2"]
            assert s.query(Person).filter(Person.id.in_(ids)).count() == 3
            # 2.0-style update/delete by an encrypted column
            s.execute(sa.update(Person).where(Person.email == emails[1]).values(name="Cy"))
            s.commit()
            assert s.get(Person, ids[2]).name == "Cy"
        tid = new_id()
        val = dict(c_int8=-2 ** 63, c_numeric=Decimal("3.14159265358979323846"), c_date=dt.date(2024, 2, 29),
                   c_tstz=dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.timezone.utc), c_bool=False,
                   c_uuid=uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), c_jsonb={"orm": [tag]}, c_bytea=b"\x00orm\xff")
        with Session(engine) as s:
            s.add(Typed(id=tid, plain="p", **val))
            s.commit()
        with Session(engine) as s:
            t = s.get(Typed, tid)
            assert {k: getattr(t, k) for k in val} == val
            assert s.query(Typed).filter(Typed.c_uuid == val["c_uuid"], Typed.id == tid).count() == 1
            assert s.query(Typed).filter(Typed.c_date == val["c_date"], Typed.id == tid).count() == 1
    finally:
        engine.dispose()
    return written


def test_sqlalchemy_orm(enc):
    written = sqlalchemy_workload(enc, "orm")
    dump = "".join(str(r) for r in enc.up_rows("SELECT t::text FROM people t"))
    for w in written:
        assert w not in dump and w.encode().hex() not in dump


def test_sqlalchemy_orm_refusal(enc):
    import sqlalchemy as sa
    url = "postgresql+psycopg2://trust_user@127.0.0.1:%d/%s?sslmode=disable" % (enc.proxy.port, harness.DB)
    engine = sa.create_engine(url, future=True)
    try:
        with engine.connect() as c:
            with pytest.raises(sa.exc.NotSupportedError) as ei:
                c.execute(sa.text("SELECT id FROM people ORDER BY email"))
            assert ei.value.orig.pgcode == "0A000"
            c.rollback()
            assert c.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
