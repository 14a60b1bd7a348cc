"""The playbooks ``edgenet deploy --emit-ansible`` writes: deploy.yml and rollback.yml, and the
systemd unit as an Ansible template.

The plays do what ``edgenet deploy`` does, with the same board command doing the work
(``python3 -m edgenet.cli.release``, run from the pushed wheel; docs/deploy.md, "The board
command"): copy the wheel, model and labels into ``BASE/incoming/`` (Ansible's copy compares
checksums first), run ``install --if-changed`` (the manifest on stdin), and when it answers exit 3
(the wheelhouse wheels it lacks, only when the dependency env must be built) copy exactly those and
run it again. ``changed`` is the board command's own ``changed``: a second run of the same artifacts
reports changed=0 and sends nothing. In check mode the command runs with ``--check`` (read only). Every path
and name reaches the board as a module argument or an argv element, never through a shell; names from
the user are ``!unsafe`` in the vars (Ansible never templates them) and the manifest is read with a
lookup (also never templated).
"""

from __future__ import annotations

from deploy.service import UNIT_NAME, UNIT_PATH, ServiceConfig, unit_text

PLAY_HEADER = """\
# Emitted by `edgenet deploy --emit-ansible` (docs/deploy.md, "Fleets with Ansible"). Run:
#   ansible-playbook -i {dir}/inventory.ini {dir}/{name} -f 50 [-e edgenet_serial=10] [-e edgenet_max_fail_percentage=20] [--check]
- name: {title}
  hosts: edgenet_boards
  gather_facts: false
  # Play keywords see play vars and -e, not group_vars: defaults are in fleet.yml (edit it, or -e).
  vars_files: [fleet.yml]
  serial: "{{{{ edgenet_serial }}}}"
  max_fail_percentage: "{{{{ edgenet_max_fail_percentage }}}}"
  vars:
    # ~ and ~/... are the board user's HOME (the emitter turns relative folders into ~/...).
    # edgenet_home and edgenet_user come from the emitter's preflight (host_vars), else from the board.
    edgenet_base_path: "{{{{ edgenet_base if edgenet_base.startswith('/') else (edgenet_home | default(ansible_user_dir)) ~ edgenet_base[1:] }}}}"
    edgenet_release_cmd: ["{{{{ edgenet_python }}}}", "-s", "-m", "edgenet.cli.release"]
    # exit 3: {{missing_artifacts, missing_wheels}}; nothing otherwise
    edgenet_missing: "{{{{ edgenet_install.stdout | from_json if edgenet_install.rc | default(0) == 3 else {{}} }}}}"
  handlers:
    - name: restart edgenet
      become: true
      ansible.builtin.systemd_service:
        name: {unit}
        state: restarted
        enabled: true
        daemon_reload: true
      when: edgenet_service | bool
  tasks:
    - name: boards edgenet deploy refused when this was emitted
      ansible.builtin.fail:
        msg: "{{{{ edgenet_refused }}}}"
      when: edgenet_refused is defined

    - name: the board user's HOME
      ansible.builtin.setup:
        gather_subset: ["!all", "!min", "user"]
      when: edgenet_home is not defined or (edgenet_service | bool and edgenet_user is not defined)
"""

DEPLOY_TASKS = """
    # Copies are housekeeping (changed_when: false): the recap's "changed" is the board command's own.
    # A dest ending in / makes the folders; Ansible's copy compares checksums before sending.
    - name: edgenet wheel, model and labels
      ansible.builtin.copy:
        src: "{{ playbook_dir }}/artifacts/{{ item }}"
        dest: "{{ edgenet_base_path }}/incoming/"
        mode: "0644"
      loop: "{{ edgenet_files }}"
      changed_when: false

    # In check mode nothing was copied: the board command runs from the wheel already in incoming/.
    - name: a wheel to run the board command from (check mode)
      ansible.builtin.stat:
        path: "{{ edgenet_base_path }}/incoming/{{ edgenet_files[0] }}"
        get_checksum: false
      register: edgenet_wheel_there
      when: ansible_check_mode

    # It decides before writing anything: nothing to do (--if-changed), or exit 3 naming the files it
    # lacks (wheelhouse wheels, only when the dependency env must be built), or the release. Read only
    # in check mode (--check).
    - name: edgenet release install (the board command)
      ansible.builtin.command:
        argv: "{{ edgenet_release_cmd + ['install'] + edgenet_install_args + (['--check'] if ansible_check_mode else []) }}"
        chdir: /
        stdin: "{{ lookup('ansible.builtin.file', playbook_dir ~ '/' ~ edgenet_manifest_file) }}"
        stdin_add_newline: false
      environment:
        PYTHONPATH: "{{ edgenet_base_path }}/incoming/{{ edgenet_files[0] }}"
      check_mode: false
      when: not ansible_check_mode or edgenet_wheel_there.stat.exists
      register: edgenet_install
      changed_when: edgenet_install.rc == 0 and (edgenet_install.stdout | from_json).changed
      failed_when: false
      notify: restart edgenet

    - name: a new release (check mode, nothing of edgenet's on the board yet)
      ansible.builtin.debug:
        msg: "a run would copy the artifacts and make a new release"
      changed_when: true
      when: ansible_check_mode and not edgenet_wheel_there.stat.exists

    # Only names this play knows (the board's answer never chooses a file to send); artifacts only if
    # something changed them on the board since the copy above.
    - name: artifacts the board lacks
      ansible.builtin.copy:
        src: "{{ playbook_dir }}/artifacts/{{ item }}"
        dest: "{{ edgenet_base_path }}/incoming/"
        mode: "0644"
      loop: "{{ edgenet_files | intersect(edgenet_missing.missing_artifacts | default([])) }}"
      changed_when: false

    - name: the wheelhouse wheels the board lacks
      ansible.builtin.copy:
        src: "{{ playbook_dir }}/{{ edgenet_wheelhouse_dir }}/{{ item }}"
        dest: "{{ edgenet_base_path }}/wheelhouse/"
        mode: "0644"
      loop: "{{ edgenet_missing.missing_wheels | default([]) | select('match', '^[^./][^/]*[.]whl$') | list }}"
      changed_when: false

    - name: edgenet release install, with the copied files
      ansible.builtin.command:
        argv: "{{ edgenet_release_cmd + ['install'] + edgenet_install_args }}"
        chdir: /
        stdin: "{{ lookup('ansible.builtin.file', playbook_dir ~ '/' ~ edgenet_manifest_file) }}"
        stdin_add_newline: false
      environment:
        PYTHONPATH: "{{ edgenet_base_path }}/incoming/{{ edgenet_files[0] }}"
      when: edgenet_install.rc | default(0) == 3
      register: edgenet_install_again
      changed_when: edgenet_install_again.rc == 0 and (edgenet_install_again.stdout | from_json).changed
      failed_when: false
      notify: restart edgenet

    - name: the board command's answer
      ansible.builtin.set_fact:
        edgenet_result: "{{ edgenet_install_again if edgenet_install_again is not skipped else edgenet_install }}"
      when: edgenet_install is not skipped

    - name: the board command failed
      ansible.builtin.fail:
        msg: "{{ (edgenet_result.stdout | from_json).msg if edgenet_result.stdout.startswith('{') else (edgenet_result.stderr_lines[-3:] | join(' | ')) }}"
      when: edgenet_result is defined and edgenet_result.rc != 0

    - name: edgenet.service
      become: true
      ansible.builtin.template:
        src: "{{ playbook_dir }}/edgenet.service.j2"
        dest: "{unit_path}"
        mode: "0644"
      when: edgenet_service | bool
      notify: restart edgenet
"""

ROLLBACK_TASKS = """
    - name: the current release's board command
      ansible.builtin.stat:
        path: "{{ edgenet_base_path }}/current/edgenet.whl"
        get_checksum: false
      register: edgenet_current_wheel

    - name: nothing deployed
      ansible.builtin.fail:
        msg: "nothing deployed in {{ edgenet_base_path }}: run deploy.yml first"
      when: not edgenet_current_wheel.stat.exists
    - name: edgenet release rollback (the board command of the current release)
      ansible.builtin.command:
        argv: "{{ edgenet_release_cmd + ['rollback', '--base', edgenet_base_path] + (['--to', edgenet_rollback_to] if edgenet_rollback_to is defined else []) }}"
        chdir: /
      environment:
        PYTHONPATH: "{{ edgenet_base_path }}/current/edgenet.whl"
      register: edgenet_rollback
      changed_when: edgenet_rollback.rc == 0
      failed_when: false
      notify: restart edgenet

    - name: the board command failed
      ansible.builtin.fail:
        msg: "{{ (edgenet_rollback.stdout | from_json).msg if edgenet_rollback.stdout.startswith('{') else (edgenet_rollback.stderr_lines[-3:] | join(' | ')) }}"
      when: edgenet_rollback is not skipped and edgenet_rollback.rc != 0
"""

# The unit's user and base folder are per board; everything else is edgenet's one unit text
# (deploy.service.unit_text). These stand in for them there, then become Jinja expressions.
_USER, _BASE = "@@EDGENET_USER@@", "@@EDGENET_BASE@@"


def _shown(out_dir: str) -> str:
    """The folder as shown in the header comment: one line whatever its name holds."""
    return "".join(c if c.isprintable() else "?" for c in out_dir)


def deploy_playbook(out_dir: str) -> str:
    head = PLAY_HEADER.format(dir=_shown(out_dir), name="deploy.yml", title="edgenet deploy", unit=UNIT_NAME)
    return head + DEPLOY_TASKS.replace("{unit_path}", UNIT_PATH)


def rollback_playbook(out_dir: str) -> str:
    head = PLAY_HEADER.format(dir=_shown(out_dir), name="rollback.yml", title="edgenet rollback", unit=UNIT_NAME)
    return head + ROLLBACK_TASKS


def escape_jinja(text: str) -> str:
    """``text`` as a Jinja template that renders to itself: every ``{`` becomes an expression, so no
    ``{{``, ``{%`` or ``{#`` of a file name can start anything."""
    return text.replace("{", "{{ '{' }}")


def unit_template(*, model_name: str, labels_name: str | None, service: ServiceConfig) -> str:
    """edgenet.service as an Ansible template: deploy.service.unit_text with the board's user and base
    folder filled in by Ansible (the base with systemd's ``%`` doubled, as systemd_quote does)."""
    text = escape_jinja(unit_text(user=_USER, base=_BASE, model_name=model_name, labels_name=labels_name,
                                  service=service))
    return (text.replace(_USER, "{{ edgenet_user | default(ansible_user_id) }}")
            .replace(_BASE, "{{ edgenet_base_path | replace('%', '%%') }}"))
