// The environments' float32 dynamics, a line-by-line port of src/envs/*.rs for F = f32.
//
// Each expression keeps the grouping of the Rust source (which keeps gymnasium's), and every
// constant is the f64 value rounded to float, as `F::of` does: `(float)(double expression)` folds
// the expression in double exactly as the Rust `const` does. Compiles as CUDA and as plain C++
// (tests/cuda_mirror.rs runs it with g++ against the Rust environments).
//
// Only the action kind each environment's readout produces is handled: an index for the discrete
// environments, a value for the continuous ones (the executors never send the other kind).
#pragma once
#include "math.cuh"

namespace sfnn {

// Ids in the order of `envs::all()` (src/exec/cuda checks the names).
enum EnvId { CARTPOLE = 0, ACROBOT = 1, MOUNTAIN_CAR = 2, PENDULUM = 3, MOUNTAIN_CAR_CONTINUOUS = 4 };

const int MAX_OBS = 6;

SFNN_FN float pi_f32() { return 3.14159265358979323846f; }

// f(0), ..., f(N - 1): a step's independent sines and cosines. On the GPU every lane of the
// calling warp (warp 0, which steps the environment) must call this: lane k forms f(k), the
// lanes past N repeat f(0), and a shuffle hands every lane all N, so the N cost one. In C++
// they are formed one after another. Either way each value comes from the same operations.
template <int N, typename F>
SFNN_FN void lanes_gather(F f, float (&out)[N]) {
#ifdef __CUDACC__
    const int lane = (int)(threadIdx.x & 31u);
    const float mine = f(lane < N ? lane : 0);
#pragma unroll
    for (int k = 0; k < N; ++k) out[k] = __shfl_sync(0xffffffffu, mine, k);
#else
    for (int k = 0; k < N; ++k) out[k] = f(k);
#endif
}

// Observation size, state size, horizon and output nodes of each environment (EnvInfo).
SFNN_FN int env_obs_dim(int id) {
    switch (id) {
        case CARTPOLE: return 4;
        case ACROBOT: return 6;
        case PENDULUM: return 3;
        default: return 2;
    }
}
SFNN_FN int env_state_dim(int id) { return (id == CARTPOLE || id == ACROBOT) ? 4 : 2; }
SFNN_FN int env_horizon(int id) {
    switch (id) {
        case CARTPOLE: return 500;
        case ACROBOT: return 500;
        case MOUNTAIN_CAR: return 200;
        case PENDULUM: return 200;
        default: return 999;
    }
}
SFNN_FN bool env_is_continuous(int id) { return id == PENDULUM || id == MOUNTAIN_CAR_CONTINUOUS; }
SFNN_FN int env_outputs(int id) {
    switch (id) {
        case CARTPOLE: return 2;
        case ACROBOT: return 3;
        case MOUNTAIN_CAR: return 3;
        default: return 1;
    }
}
// Action bounds of the continuous environments, as float (`F::of(low)`).
SFNN_FN float env_action_low(int id) { return id == PENDULUM ? -2.0f : -1.0f; }
SFNN_FN float env_action_high(int id) { return id == PENDULUM ? 2.0f : 1.0f; }

struct Env {
    int id;
    int elapsed;
    float s[4];
};

struct StepResult {
    float reward;
    bool terminated;
    bool truncated;
};

SFNN_FN void env_observe(const Env& env, float* obs) {
    switch (env.id) {
        case ACROBOT: {
            // cos θ1, sin θ1, cos θ2, sin θ2 (selects, not env.s[k / 2]: a runtime index would
            // put the state in local memory).
            float trig[4];
            lanes_gather<4>([&](int k) { return trig_f32(k < 2 ? env.s[0] : env.s[1], (k & 1) == 0); },
                            trig);
            for (int k = 0; k < 4; ++k) obs[k] = trig[k];
            obs[4] = env.s[2];
            obs[5] = env.s[3];
            break;
        }
        case PENDULUM: {
            float trig[2];
            lanes_gather<2>([&](int k) { return trig_f32(env.s[0], k == 0); }, trig);
            obs[0] = trig[0];
            obs[1] = trig[1];
            obs[2] = env.s[1];
            break;
        }
        case CARTPOLE:
            for (int i = 0; i < 4; ++i) obs[i] = env.s[i];
            break;
        default:
            obs[0] = env.s[0];
            obs[1] = env.s[1];
            break;
    }
}

SFNN_FN void env_reset_to(Env& env, const float* state, float* obs) {
    int dim = env_state_dim(env.id);
    // Constant indices keep the state in registers (a runtime index would put it in memory).
#ifdef __CUDACC__
#pragma unroll
#endif
    for (int i = 0; i < 4; ++i) env.s[i] = i < dim ? state[i] : 0.0f;
    env.elapsed = 0;
    env_observe(env, obs);
}

// ---- CartPole-v1 (src/envs/cartpole.rs)
SFNN_FN StepResult cartpole_step(Env& env, int action) {
    const float GRAVITY = 9.8f;
    const float MASS_POLE = 0.1f;
    const float TOTAL_MASS = (float)(0.1 + 1.0);
    const float LENGTH = 0.5f;
    const float POLE_MASS_LENGTH = (float)(0.1 * 0.5);
    const float FORCE_MAG = 10.0f;
    const float TAU = 0.02f;
    const float THETA_THRESHOLD = (float)(12.0 * 2.0 * 3.141592653589793 / 360.0);
    const float X_THRESHOLD = 2.4f;
    float x = env.s[0], x_dot = env.s[1], theta = env.s[2], theta_dot = env.s[3];
    float force = action == 1 ? FORCE_MAG : -FORCE_MAG;
    float trig[2];
    lanes_gather<2>([&](int k) { return trig_f32(theta, k == 1); }, trig);
    float sn = trig[0], cs = trig[1];
    float temp = (force + POLE_MASS_LENGTH * (theta_dot * theta_dot) * sn) / TOTAL_MASS;
    float theta_acc = (GRAVITY * sn - cs * temp) /
                      (LENGTH * ((float)(4.0 / 3.0) - MASS_POLE * (cs * cs) / TOTAL_MASS));
    float x_acc = temp - POLE_MASS_LENGTH * theta_acc * cs / TOTAL_MASS;
    env.s[0] = x + TAU * x_dot;
    env.s[1] = x_dot + TAU * x_acc;
    env.s[2] = theta + TAU * theta_dot;
    env.s[3] = theta_dot + TAU * theta_acc;
    env.elapsed += 1;
    x = env.s[0];
    theta = env.s[2];
    StepResult r;
    r.terminated = x < -X_THRESHOLD || x > X_THRESHOLD || theta < -THETA_THRESHOLD ||
                   theta > THETA_THRESHOLD;
    r.reward = 1.0f;
    r.truncated = env.elapsed >= 500;
    return r;
}

// ---- Acrobot-v1 (src/envs/acrobot.rs)
struct Vec5 {
    float v[5];
};

SFNN_FN Vec5 acrobot_dsdt(Vec5 s) {
    const float m1 = 1.0f, m2 = 1.0f, l1 = 1.0f, lc1 = 0.5f, lc2 = 0.5f, i1 = 1.0f, i2 = 1.0f;
    const float g = 9.8f;
    const float two = 2.0f;
    const float half_pi = pi_f32() / two;
    float theta1 = s.v[0], theta2 = s.v[1], dtheta1 = s.v[2], dtheta2 = s.v[3], a = s.v[4];
    // sin θ2, cos θ2, cos(θ1 + θ2 − π/2), cos(θ1 − π/2)
    float trig[4];
    lanes_gather<4>(
        [&](int k) {
            float angle = k < 2 ? theta2 : (k == 2 ? theta1 + theta2 - half_pi : theta1 - half_pi);
            return trig_f32(angle, k > 0);
        },
        trig);
    float sin2 = trig[0], cos2 = trig[1];
    float d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + two * l1 * lc2 * cos2) + i1 + i2;
    float d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos2) + i2;
    float phi2 = m2 * lc2 * g * trig[2];
    float phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin2 -
                 two * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2 +
                 (m1 * lc1 + m2 * l1) * g * trig[3] + phi2;
    float ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin2 - phi2) /
                     (m2 * (lc2 * lc2) + i2 - (d2 * d2) / d1);
    float ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    Vec5 out;
    out.v[0] = dtheta1;
    out.v[1] = dtheta2;
    out.v[2] = ddtheta1;
    out.v[3] = ddtheta2;
    out.v[4] = 0.0f;
    return out;
}

SFNN_FN Vec5 acrobot_offset(Vec5 y, float h, Vec5 k) {
    Vec5 out;
    for (int i = 0; i < 5; ++i) out.v[i] = y.v[i] + h * k.v[i];
    return out;
}

SFNN_FN float acrobot_wrap(float x, float low, float high) {
    float diff = high - low;
    while (x > high) x -= diff;
    while (x < low) x += diff;
    return x;
}

SFNN_FN float acrobot_bound(float x, float low, float high) {
    x = x < low ? low : x;
    return x > high ? high : x;
}

SFNN_FN StepResult acrobot_step(Env& env, int action) {
    const float MAX_VEL_1 = (float)(4.0 * 3.141592653589793);
    const float MAX_VEL_2 = (float)(9.0 * 3.141592653589793);
    int a = action < 2 ? action : 2;
    float torque = a == 0 ? -1.0f : (a == 1 ? 0.0f : 1.0f);
    Vec5 y0;
    for (int i = 0; i < 4; ++i) y0.v[i] = env.s[i];
    y0.v[4] = torque;
    float h = 0.2f - 0.0f;
    float h2 = h / 2.0f;
    Vec5 k1 = acrobot_dsdt(y0);
    Vec5 k2 = acrobot_dsdt(acrobot_offset(y0, h2, k1));
    Vec5 k3 = acrobot_dsdt(acrobot_offset(y0, h2, k2));
    Vec5 k4 = acrobot_dsdt(acrobot_offset(y0, h, k3));
    const float two = 2.0f;
    float scale = h / 6.0f;
    float ns[4];
    for (int i = 0; i < 4; ++i)
        ns[i] = y0.v[i] + scale * (k1.v[i] + two * k2.v[i] + two * k3.v[i] + k4.v[i]);
    float pi = pi_f32();
    env.s[0] = acrobot_wrap(ns[0], -pi, pi);
    env.s[1] = acrobot_wrap(ns[1], -pi, pi);
    env.s[2] = acrobot_bound(ns[2], -MAX_VEL_1, MAX_VEL_1);
    env.s[3] = acrobot_bound(ns[3], -MAX_VEL_2, MAX_VEL_2);
    env.elapsed += 1;
    float theta1 = env.s[0], theta2 = env.s[1];
    StepResult r;
    float trig[2];  // cos θ1, cos(θ2 + θ1)
    lanes_gather<2>([&](int k) { return cos_f32(k == 0 ? theta1 : theta2 + theta1); }, trig);
    r.terminated = -trig[0] - trig[1] > 1.0f;
    r.reward = r.terminated ? 0.0f : -1.0f;
    r.truncated = env.elapsed >= 500;
    return r;
}

// ---- MountainCar-v0 (src/envs/mountain_car.rs)
SFNN_FN StepResult mountain_car_step(Env& env, int action) {
    const float FORCE = 0.001f, GRAVITY = 0.0025f, MAX_SPEED = 0.07f;
    const float MIN_POSITION = -1.2f, MAX_POSITION = 0.6f, GOAL_POSITION = 0.5f;
    float push = (float)((action < 2 ? action : 2) - 1);
    float position = env.s[0], velocity = env.s[1];
    velocity = velocity + (push * FORCE + cos_f32(3.0f * position) * -GRAVITY);
    velocity = min_f32(max_f32(velocity, -MAX_SPEED), MAX_SPEED);
    position = position + velocity;
    position = min_f32(max_f32(position, MIN_POSITION), MAX_POSITION);
    if (position == MIN_POSITION && velocity < 0.0f) velocity = 0.0f;
    env.s[0] = position;
    env.s[1] = velocity;
    env.elapsed += 1;
    StepResult r;
    r.terminated = position >= GOAL_POSITION && velocity >= 0.0f;
    r.reward = -1.0f;
    r.truncated = env.elapsed >= 200;
    return r;
}

// ---- Pendulum-v1 (src/envs/pendulum.rs)
SFNN_FN float angle_normalize(float x) {
    float two_pi = 2.0f * pi_f32();
    float r = fmodf(x + pi_f32(), two_pi);
    r = r < 0.0f ? r + two_pi : r;
    return r - pi_f32();
}

SFNN_FN StepResult pendulum_step(Env& env, float u) {
    const float MAX_SPEED = 8.0f, MAX_TORQUE = 2.0f;
    u = min_f32(max_f32(u, -MAX_TORQUE), MAX_TORQUE);
    float th = env.s[0], thdot = env.s[1];
    float an = angle_normalize(th);
    float costs = an * an + 0.1f * (thdot * thdot) + 0.001f * (u * u);
    const float gravity_term = (float)(3.0 * 10.0 / (2.0 * 1.0));
    const float torque_term = (float)(3.0 / (1.0 * (1.0 * 1.0)));
    const float dt = 0.05f;
    float newthdot = thdot + (gravity_term * sin_f32(th) + torque_term * u) * dt;
    newthdot = min_f32(max_f32(newthdot, -MAX_SPEED), MAX_SPEED);
    float newth = th + newthdot * dt;
    env.s[0] = newth;
    env.s[1] = newthdot;
    env.elapsed += 1;
    StepResult r;
    r.reward = -costs;
    r.terminated = false;
    r.truncated = env.elapsed >= 200;
    return r;
}

// ---- MountainCarContinuous-v0 (src/envs/mountain_car_continuous.rs)
SFNN_FN StepResult mountain_car_continuous_step(Env& env, float a) {
    const float POWER = 0.0015f, GRAVITY = 0.0025f, MAX_SPEED = 0.07f;
    const float MIN_POSITION = -1.2f, MAX_POSITION = 0.6f, GOAL_POSITION = 0.45f;
    float force = min_f32(max_f32(a, -1.0f), 1.0f);
    float position = env.s[0], velocity = env.s[1];
    velocity = velocity + (force * POWER - GRAVITY * cos_f32(3.0f * position));
    velocity = min_f32(max_f32(velocity, -MAX_SPEED), MAX_SPEED);
    position = position + velocity;
    position = min_f32(max_f32(position, MIN_POSITION), MAX_POSITION);
    if (position == MIN_POSITION && velocity < 0.0f) velocity = 0.0f;
    env.s[0] = position;
    env.s[1] = velocity;
    env.elapsed += 1;
    StepResult r;
    r.terminated = position >= GOAL_POSITION && velocity >= 0.0f;
    float bonus = r.terminated ? 100.0f : 0.0f;
    r.reward = bonus - (a * a) * 0.1f;
    r.truncated = env.elapsed >= 999;
    return r;
}

// One step with the action of the environment's readout; writes the next observation.
SFNN_FN StepResult env_step(Env& env, int discrete, float value, float* obs) {
    StepResult r;
    switch (env.id) {
        case CARTPOLE: r = cartpole_step(env, discrete); break;
        case ACROBOT: r = acrobot_step(env, discrete); break;
        case MOUNTAIN_CAR: r = mountain_car_step(env, discrete); break;
        case PENDULUM: r = pendulum_step(env, value); break;
        default: r = mountain_car_continuous_step(env, value); break;
    }
    env_observe(env, obs);
    return r;
}

}  // namespace sfnn
