"""The practitioner's web console (NiceGUI): a second front end on the treatment service.

Like the CLI it does only input and output; the treatment service (`controller.treatment`) does
the rest, in this server process. Modules:

- `config` — what `mesodrive console` was asked (device, records, address, token, TLS) and the
  rule for listening off loopback (TLS required);
- `access` — the access-token gate in front of every request and websocket (403 without it);
- `station` — the one device connection, the service and the current treatment, shared by every
  page; device calls happen in threads, never in the page's event loop;
- `board` — the run as the page shows it (point states, progress, alarm, event log), fed by the
  engine's events; `policy` — the recovery policy that asks the page;
- `gridmap` — the grid drawn as SVG; `header`, `plan_view`, `run_view`, `records_view`,
  `estop` — the screens; `pages` — assembles them; `command` — the `mesodrive console` command.
"""
