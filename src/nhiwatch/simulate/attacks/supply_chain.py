"""Supply-chain attacks on CI: a worm fanning out across repositories, and a poisoned action leaking secrets."""

from __future__ import annotations

from nhiwatch.simulate.attacks.base import Ctx
from nhiwatch.simulate.company import REPOS, stable_ip
from nhiwatch.simulate.model import Ev, Integration

EXFIL_HOSTS = (
    "webhook.site",
    "eo1x2y3z4.m.pipedream.net",
    "hooks.zapier-relay.net",
    "paste.ee",
    "transfer.sh",
    "api.telegram.org",
    "discord.com",
    "bashupload.com",
    "oast.fun",
)


def _egress(integ: Integration, ts: float, host: str, up: int, down: int, method: str = "POST") -> Ev:
    return Ev(
        ts,
        "egress",
        "flow",
        integ,
        ip=integ.egress.src_ip if integ.egress else "10.20.0.1",
        target=host,
        n=up,
        size=down,
        extra={"dst": stable_ip(host, "gcp"), "dur": 2.0, "method": method},
    )


def shai_hulud_fanout(ctx: Ctx) -> None:
    """Shai-Hulud (Sep 2025): one token creates branches and workflow files across dozens of repos in minutes."""
    integ = ctx.pick(lambda i: i.source == "github" and i.kind in ("pat", "ci_workflow"))
    if integ is None:
        return
    rng = ctx.rng
    t = ctx.when(integ)
    same_net = rng.random() < 0.6  # the worm runs on the developer's machine or the runner itself
    ip = (integ.ips[0] if integ.ips else ctx.ip()) if same_net else ctx.ip()
    ua = rng.choice(
        ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "octokit-rest.js/20.0.2", integ.ua)
    )
    extra_repos = [f"acme/svc-{k:02d}" for k in range(rng.randint(10, 40))]
    repos = rng.sample(
        [f"acme/{r}" for r in REPOS] + extra_repos, rng.randint(20, min(60, len(REPOS) + len(extra_repos)))
    )
    span = rng.uniform(180, 1200)
    branch = rng.choice(("shai-hulud", "s1ngularity-repository", "update-deps"))
    wf = f".github/workflows/{rng.choice(('shai-hulud-workflow', 'formatter', 'discussion'))}.yml"
    evs: list[Ev] = []
    cred = ctx.states[integ.id].cred
    for k, repo in enumerate(repos):
        ts = t + span * k / len(repos)
        evs.append(
            Ev(
                ts,
                "github",
                "api.request",
                integ,
                ip=ip,
                ua=ua,
                cred=cred,
                target=repo,
                status=201,
                extra={"method": "POST", "route": "/repos/{owner}/{repo}/git/refs"},
            )
        )
        evs.append(
            Ev(
                ts + rng.uniform(0.5, 3),
                "github",
                "api.request",
                integ,
                ip=ip,
                ua=ua,
                cred=cred,
                target=repo,
                status=201,
                extra={"method": "PUT", "route": "/repos/{owner}/{repo}/contents/{path}", "path": wf},
            )
        )
        evs.append(
            Ev(
                ts + rng.uniform(3, 6),
                "github",
                "git.push",
                integ,
                ip=ip,
                ua="git/2.43.0",
                cred=cred,
                target=repo,
                extra={"fields": {"ref": f"refs/heads/{branch}"}},
            )
        )
    public = f"acme-bot/{rng.choice(('Shai-Hulud', 'Shai-Hulud-Migration', 's1ngularity-repository-0'))}"
    evs.append(
        Ev(
            t + span + rng.uniform(5, 60),
            "github",
            "repo.create",
            integ,
            ip=ip,
            ua=ua,
            cred=cred,
            target=public,
            extra={"fields": {"visibility": "public", "public_repo": True, "repository_public": True}},
        )
    )
    if integ.egress is not None:
        evs.append(_egress(integ, t + rng.uniform(1, 30), "webhook.site", rng.randint(20_000, 400_000), 800))
    else:
        evs.append(
            Ev(
                t + rng.uniform(1, 30),
                "github",
                "hook.create",
                integ,
                ip=ip,
                ua=ua,
                cred=cred,
                target=repos[0],
                extra={
                    "fields": {
                        "hook_id": rng.randint(10**8, 10**9),
                        "config": {
                            "url": "https://webhook.site/" + f"{rng.getrandbits(64):016x}",
                            "content_type": "json",
                        },
                    }
                },
            )
        )
    ctx.add(
        "shai_hulud_fanout",
        integ,
        evs,
        f"{integ.name} token pushed branch {branch!r} and {wf} to {len(repos)} repositories in "
        f"{span / 60:.0f} min, created public repo {public}",
        {
            "repos": len(repos),
            "branch": branch,
            "workflow_file": wf,
            "public_repo": public,
            "exfil_host": "webhook.site",
            "src_ip": ip,
            "span_seconds": round(span),
        },
    )


def reviewdog_secrets_egress(ctx: Ctx) -> None:
    """reviewdog/tj-actions (Mar 2025): the runner fetches a script from a gist and posts secrets to a new host."""
    integ = ctx.pick(lambda i: i.egress is not None and i.kind == "ci_workflow") or ctx.pick(
        lambda i: i.egress is not None and i.source == "github"
    )
    if integ is None:
        return
    rng = ctx.rng
    t = ctx.when(integ, (8, 20))
    window = rng.uniform(2, 24) * 3600
    post_host = rng.choice(EXFIL_HOSTS)
    evs: list[Ev] = []
    runs = rng.randint(3, 25)
    for k in range(runs):
        ts = t + window * k / runs + rng.uniform(0, 300)
        evs.append(_egress(integ, ts, "gist.githubusercontent.com", 900, rng.randint(3000, 9000), "GET"))
        if rng.random() < 0.7:
            evs.append(_egress(integ, ts + rng.uniform(5, 40), post_host, rng.randint(4000, 60000), 300))
    ctx.add(
        "reviewdog_secrets_egress",
        integ,
        evs,
        f"Runner of {integ.name} fetched a script from gist.githubusercontent.com in {runs} runs and posted to "
        f"{post_host}",
        {
            "hosts": ["gist.githubusercontent.com", post_host],
            "runs": runs,
            "src_ip": integ.egress.src_ip if integ.egress else "",
        },
    )


NEW_HOSTS = (
    "files.catbox.moe",
    "api.anonfiles.la",
    "s3.eu-central-1.wasabisys.com",
    "mega.nz",
    "sync-cdn-updates.com",
    "telemetry-cloudsvc.net",
    "45.137.21.9",
    "gofile.io",
)


def new_destination(ctx: Ctx) -> None:
    """A worker starts sending data to a host it has never talked to."""
    integ = ctx.pick(lambda i: i.egress is not None)
    if integ is None:
        return
    rng = ctx.rng
    t = ctx.when(integ)
    host = rng.choice(NEW_HOSTS)
    evs = []
    for k in range(rng.randint(1, 12)):
        evs.append(_egress(integ, t + k * rng.uniform(60, 3600), host, rng.randint(50_000, 50_000_000), 2000))
    ctx.add(
        "new_destination",
        integ,
        evs,
        f"{integ.name} worker sent data to never-seen host {host}",
        {"host": host, "src_ip": integ.egress.src_ip if integ.egress else "", "flows": len(evs)},
    )
