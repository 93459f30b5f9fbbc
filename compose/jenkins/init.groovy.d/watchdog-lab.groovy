// Runs once per controller start, after Configuration as Code has created the
// users and the agents (init.groovy.d scripts run when initialisation is
// complete).
//
// 1. The watchdog's API token. CasC creates the "watchdog" user but has no
//    setting that turns a secret file into an API token, so this script reads
//    /run/secrets/watchdog_token and registers it with
//    ApiTokenProperty.addFixedNewToken. Jenkins stores only a hash of it. The
//    value must be "11" followed by 32 lowercase hex characters, which is what
//    scripts/gen-lab-secrets.sh writes. Idempotent: every other token of the
//    lab's dedicated watchdog user is then revoked, so a new secret file
//    replaces the old token on restart.
//
//    Only ApiTokenProperty's methods "meant for scripting" are used
//    (addFixedNewToken, revokeAllTokensExceptOne). The ApiTokenStore behind
//    getTokenStore() is internal and changes between releases: its
//    two-argument addFixedNewToken is gone since Jenkins 2.548 (tokens gained
//    an expiration date), which would break this script on the lab's core.
//
// 2. The standby starts parked. On the very first start only (a marker file in
//    JENKINS_HOME remembers it), slave02 is marked temporarily offline with the
//    tag the watchdog puts in the message of the agents it parks
//    ("[jenkins-failover-watchdog]", watcher.ParkTag; LAB_STANDBY_PARK_MESSAGE,
//    set in docker-compose.yml), so the watchdog recognises it as its own
//    parked standby and not as an agent an operator took away. Later starts
//    leave slave02 alone: the temporarily-offline state survives restarts and
//    belongs to the watchdog from then on.
import hudson.model.User
import hudson.slaves.OfflineCause
import jenkins.model.Jenkins
import jenkins.security.ApiTokenProperty

import java.util.logging.Logger

def log = Logger.getLogger('watchdog-lab.groovy')
def jenkins = Jenkins.get()

def tokenFile = new File('/run/secrets/watchdog_token')
if (tokenFile.canRead()) {
    def token = tokenFile.text.trim()
    def user = User.getById('watchdog', false)
    if (user == null) {
        log.severe('user "watchdog" does not exist: check casc/jenkins.yaml')
    } else {
        def property = user.getProperty(ApiTokenProperty)
        if (property == null) {
            property = new ApiTokenProperty()
            user.addProperty(property)
        }
        def tokenName = 'jenkins-failover-watchdog'
        // Both calls save the user.
        def tokenUuid = property.addFixedNewToken(tokenName, token)
        property.revokeAllTokensExceptOne(tokenUuid)
        // Never log the token itself.
        log.info('API token "' + tokenName + '" registered for user watchdog')
    }
} else {
    log.warning('/run/secrets/watchdog_token is missing: the watchdog cannot authenticate (run scripts/gen-lab-secrets.sh)')
}

def marker = new File(jenkins.rootDir, '.watchdog-lab-standby-parked')
if (!marker.exists()) {
    def message = System.getenv('LAB_STANDBY_PARK_MESSAGE') ?: '[jenkins-failover-watchdog] standby parked: lab start'
    def computer = jenkins.getComputer('slave02')
    if (computer == null) {
        log.severe('agent slave02 does not exist: check casc/jenkins.yaml')
    } else {
        // setTemporaryOfflineCause (Jenkins 2.482+) replaces the deprecated
        // setTemporarilyOffline(boolean, OfflineCause).
        computer.setTemporaryOfflineCause(new OfflineCause.UserCause(User.getById('watchdog', false), message))
        marker.text = 'slave02 parked on first start\n'
        log.info('slave02 marked temporarily offline (lab standby)')
    }
}
