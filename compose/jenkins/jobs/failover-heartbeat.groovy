// Job DSL, loaded by Configuration as Code (casc/jenkins.yaml, "jobs").
// A small freestyle job that may run on either agent of the group, every few
// minutes: its build history shows which agent carried the work, before and
// after a failover.
job('failover-heartbeat') {
    description('Runs on slave01 || slave02 every 3 minutes. Watch its builds move to slave02 when slave01 dies.')
    label('slave01 || slave02')
    logRotator {
        numToKeep(200)
    }
    triggers {
        cron('H/3 * * * *')
    }
    steps {
        shell('echo "heartbeat on ${NODE_NAME} at $(date -u +%Y-%m-%dT%H:%M:%SZ)"; sleep 20')
    }
}
