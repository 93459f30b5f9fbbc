// Package reliability holds the watchdog's evidence under faults: the fault
// matrix, people and other processes acting on the same controller, process
// faults, the soak and the secrets check. It has tests only; they drive the
// real watcher and jenkins.Client over loopback HTTP against the fake
// controller. docs/reliability.md gives the figures and the commands.
package reliability
