/*
 * The subcommands of `gpuplex vm` that talk to gpuplexd's /v1/vms
 * (vm_lease.c), for the table in cmd_vm.c. Each takes argv from the
 * subcommand's name on and returns the exit status.
 */
#ifndef GPX_CLI_VM_CMDS_H
#define GPX_CLI_VM_CMDS_H

int gpx__vm_create(int argc, char **argv);
int gpx__vm_ls(int argc, char **argv);
int gpx__vm_ssh(int argc, char **argv);
int gpx__vm_rm(int argc, char **argv);

#endif
