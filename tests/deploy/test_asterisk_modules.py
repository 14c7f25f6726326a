"""The shipped Asterisk configuration loads exactly what the hotline uses (docker/asterisk/modules.conf).

Checked against what the dialplan and the controller need, so a new application in extensions.conf
or a new AMI action cannot silently depend on a module that is not loaded; and no module that opens a
network listener the hotline does not use is loaded.  (On Asterisk 22.10.1 this configuration started
with no ERROR or WARNING line: README "Running on a real Asterisk".)
"""
from __future__ import annotations

import re

from tests.conftest import ROOT

ASTERISK = ROOT / "docker" / "asterisk"

#: dialplan applications and functions -> the module providing them (core ones need none)
CORE_APPS = {"Answer", "NoOp", "Set", "GotoIf", "Goto", "Hangup", "Wait", "Busy", "Congestion", "Ringing"}
APP_MODULES = {"AGI": "res_agi.so", "Dial": "app_dial.so", "MixMonitor": "app_mixmonitor.so", "ExecIf": "app_exec.so",
               "Playback": "app_playback.so", "SendDTMF": "app_senddtmf.so", "MusicOnHold": "res_musiconhold.so",
               "ChanSpy": "app_chanspy.so", "AudioSocket": "app_audiosocket.so"}
FUNC_MODULES = {"CALLERID": "func_callerid.so", "CDR": "func_cdr.so", "IF": "func_logic.so"}
#: what the controller asks over AMI and AGI beyond the dialplan
CONTROLLER = {"res_agi.so",            # AsyncAGI: IVR, hold, rating, survey
              "res_speech.so",         # res_agi requires it
              "res_musiconhold.so",    # EXEC MusicOnHold while holding
              "app_senddtmf.so",       # the PlayDTMF action
              "app_chanspy.so",        # supervisor listen/whisper/barge (Originate into ChanSpy)
              "app_queue.so",          # QueueStatus at every login
              "cdr_manager.so",        # Cdr events
              "chan_audiosocket.so", "res_audiosocket.so",  # live speech (Dial(AudioSocket/…))
              "format_wav.so", "codec_gsm.so", "format_gsm.so", "res_timing_timerfd.so", "pbx_config.so"}
#: modules that listen on the network (or log errors without their config) and are not the hotline's
NEVER = {"chan_sip.so", "chan_iax2.so", "chan_skinny.so", "chan_mgcp.so", "chan_unistim.so", "res_http_websocket.so",
         "res_ari.so", "chan_dahdi.so", "res_xmpp.so", "chan_motif.so", "res_hep.so", "res_snmp.so", "cdr_radius.so",
         "res_phoneprov.so", "res_pjsip_phoneprov_provider.so", "chan_ooh323.so", "res_fax.so"}


def _loads(name: str) -> list[str]:
    text = (ASTERISK / name).read_text("utf-8")
    return re.findall(r"^\s*load\s*=>?\s*(\S+)", text, re.M)


def test_no_autoload_and_every_needed_module_is_loaded():
    modules_conf = (ASTERISK / "modules.conf").read_text("utf-8")
    assert re.search(r"^autoload\s*=\s*no", modules_conf, re.M)
    assert '#tryinclude "modules-phones.conf"' in modules_conf
    loaded = set(_loads("modules.conf")) | set(_loads("modules-phones.conf"))
    dialplan = (ASTERISK / "extensions.conf").read_text("utf-8")
    dialplan = "\n".join(line.split(";", 1)[0] for line in dialplan.splitlines())
    apps = set(re.findall(r"(?:^exten\s*=>\s*[^,]+,[^,]+|^\s*same\s*=>\s*[^,]+),([A-Za-z]+)\(", dialplan, re.M))
    apps |= set(re.findall(r"\?([A-Za-z]+)\(", dialplan))  # ExecIf(cond?App(...))
    unknown = apps - CORE_APPS - set(APP_MODULES)
    assert not unknown, f"add the providing module to APP_MODULES and modules.conf: {unknown}"
    needed = {APP_MODULES[a] for a in apps if a in APP_MODULES}
    functions = set(re.findall(r"\$\{([A-Z]+)\(", dialplan)) | set(re.findall(r"Set\(([A-Z]+)\(", dialplan))
    assert {"CALLERID", "CDR", "IF"} <= functions
    needed |= {FUNC_MODULES[f] for f in functions if f in FUNC_MODULES}
    needed |= CONTROLLER
    assert needed - loaded == set()


def test_no_unneeded_listener_is_loaded_and_sip_comes_from_the_phones_file():
    loaded = set(_loads("modules.conf")) | set(_loads("modules-phones.conf"))
    assert loaded & NEVER == set()
    assert "chan_pjsip.so" in _loads("modules-phones.conf") and "chan_pjsip.so" not in _loads("modules.conf")


def test_every_config_file_the_core_reads_at_start_is_shipped():
    """Without them Asterisk 22 logs "Unable to load config file" errors at every start."""
    for name in ("logger.conf", "cdr.conf", "cel.conf", "features.conf", "acl.conf", "udptl.conf", "ccss.conf",
                 "indications.conf", "queues.conf", "manager.conf", "musiconhold.conf", "cdr_manager.conf",
                 "modules.conf", "modules-phones.conf", "extensions.conf", "pjsip.conf", "asterisk.conf"):
        assert (ASTERISK / name).is_file(), name
    logger = (ASTERISK / "logger.conf").read_text("utf-8")
    assert re.search(r"^messages\s*=>.*error", logger, re.M)
