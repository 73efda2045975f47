package nn

import (
	"errors"
	"fmt"
	"sync"
)

// ErrBusy reports a call that collides with another on the same model: Fit,
// Build or Free while Fit, Predict or Evaluate runs on another goroutine, or
// Predict or Evaluate while Fit, Build or Free runs (Fit's callbacks may
// call Predict and Evaluate, and other goroutines may while a callback runs).
// The call did nothing.
var ErrBusy = errors.New("model busy")

// maxIdlePlans bounds the inference plans (buffers of Predict and Evaluate)
// a model keeps between calls; more concurrent calls allocate their own and
// free them when done.
const maxIdlePlans = 8

// exclusive reserves the model for one call that changes it (Fit, Build,
// Free), or returns an ErrBusy error naming op when another such call or a
// Predict or Evaluate runs. The caller calls the returned release when done.
func (m *Sequential) exclusive(op string) (release func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changing != "" || m.inferring > 0 {
		return nil, fmt.Errorf("%s: %w: %s", op, ErrBusy, m.busyText())
	}
	m.changing = op
	return func() {
		m.mu.Lock()
		m.changing = ""
		m.mu.Unlock()
	}, nil
}

// shared reserves the model for a Predict or Evaluate, which may run on many
// goroutines at once, or returns an ErrBusy error naming op when Fit, Build
// or Free runs.
func (m *Sequential) shared(op string) (release func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changing != "" && !m.between {
		return nil, fmt.Errorf("%s: %w: %s", op, ErrBusy, m.busyText())
	}
	m.inferring++
	return func() {
		m.mu.Lock()
		m.inferring--
		if m.inferring == 0 && m.idleCond != nil {
			m.idleCond.Broadcast()
		}
		m.mu.Unlock()
	}, nil
}

// betweenSteps runs f, one of Fit's callbacks, while the parameters hold still:
// Predict and Evaluate may run meanwhile, from the callback itself or from
// other goroutines. Before Fit goes on it waits for those that started.
func (m *Sequential) betweenSteps(f func() error) error {
	m.mu.Lock()
	m.between = true
	m.mu.Unlock()
	err := f()
	m.mu.Lock()
	m.between = false
	for m.inferring > 0 {
		if m.idleCond == nil {
			m.idleCond = sync.NewCond(&m.mu)
		}
		m.idleCond.Wait()
	}
	m.mu.Unlock()
	return err
}

// busyText says what holds the model; the caller holds m.mu.
func (m *Sequential) busyText() string {
	if m.changing != "" {
		return fmt.Sprintf("%s is running on another goroutine; Fit, Build and Free need the model to themselves", m.changing)
	}
	return fmt.Sprintf("%d Predict or Evaluate calls are running on other goroutines; Fit, Build and Free need the model to themselves", m.inferring)
}

// takePlan returns an inference plan for batch size n with its batch buffers:
// an idle one when there is one, else a new one. Give it back with putPlan.
// Each caller gets its own plan, so concurrent Predict and Evaluate calls
// share no buffers.
func (m *Sequential) takePlan(n int) (*plan, *batchIO, error) {
	m.mu.Lock()
	for i, pl := range m.idle {
		if pl.n == n {
			m.idle = append(m.idle[:i], m.idle[i+1:]...)
			m.mu.Unlock()
			return pl, pl.io, nil
		}
	}
	m.mu.Unlock()
	pl, err := m.newPlan(n)
	if err != nil {
		return nil, nil, err
	}
	bio, err := m.newIO(pl)
	if err != nil {
		pl.free()
		return nil, nil, err
	}
	return pl, bio, nil
}

// putPlan gives back a plan from takePlan, keeping the maxIdlePlans most
// recently used and freeing the rest.
func (m *Sequential) putPlan(pl *plan) error {
	m.mu.Lock()
	m.idle = append(m.idle, nil) // in place: pl first, the others after it
	copy(m.idle[1:], m.idle)
	m.idle[0] = pl
	var drop []*plan
	if len(m.idle) > maxIdlePlans {
		drop = append(drop, m.idle[maxIdlePlans:]...)
		m.idle = m.idle[:maxIdlePlans]
	}
	m.mu.Unlock()
	var first error
	for _, old := range drop {
		if err := old.free(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
